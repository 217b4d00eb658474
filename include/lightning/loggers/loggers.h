#pragma once
/// Umbrella header for the loggers.
#include "lightning/loggers/csv.h"
#include "lightning/loggers/logger.h"
#include "lightning/loggers/tensorboard.h"
