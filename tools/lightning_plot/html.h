#pragma once
// lightning-plot's page: one self-contained HTML file (inline CSS, SVG and a tiny script).
#include "lightning_plot/run.h"

#include <string>
#include <vector>

namespace lightning::plot {

/// The chart a metric is drawn in: its name without a train/val/test prefix ("train_", "val/",
/// ...) and without Lightning's "_step"/"_epoch" suffix, so that train_loss_step,
/// train_loss_epoch and val_loss share the axes of "loss".
std::string chart_key(const std::string& metric);

/// The page for `runs` (labels set): a chart per chart_key, the hyperparameters and the
/// checkpoints.
std::string render_page(const std::vector<Run>& runs, const std::string& title);

}  // namespace lightning::plot
