// The model and its latent: the model list, the seed (type, step, draw), the latent's histogram.
#pragma once

#include "editor_context.h"
#include "model_library.h"

namespace actmap::app {

class ModelPanel {
 public:
  void draw(EditorContext& ctx, ModelLibrary& models);
};

}  // namespace actmap::app
