// `disttune train`: one configuration from start to finish (SPEC sections 4-6) — data,
// tokenized store, model, the training loop over global batches with cross-rank in-batch
// negatives, evaluation, checkpoints and resume, export, and the final before/after report.
#pragma once

namespace disttune {

struct Dist;
class Config;

// Runs the training job on every rank. Throws UserError on bad input.
void train(Dist& d, const Config& cfg);

}  // namespace disttune
