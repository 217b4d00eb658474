#pragma once
/// All built-in callbacks: `#include <lightning/callbacks/callbacks.h>`.
#include "lightning/callbacks/batch_size_finder.h"
#include "lightning/callbacks/callback.h"
#include "lightning/callbacks/device_stats_monitor.h"
#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/gradient_accumulation_scheduler.h"
#include "lightning/callbacks/lr_finder.h"
#include "lightning/callbacks/lr_monitor.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/on_exception_checkpoint.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/callbacks/timer.h"
