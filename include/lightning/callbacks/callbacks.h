#pragma once
/// All built-in callbacks: `#include <lightning/callbacks/callbacks.h>`.
#include "lightning/callbacks/callback.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/progress_bar.h"
