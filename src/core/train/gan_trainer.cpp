// The generator and discriminator in training: LibTorch modules (batch norm in train mode, nothing
// folded) whose parameter names are the card's weight keys, Adam, and exact checkpoints.
// Inference never comes here: load_generator reads what generator_weights() returns.
#include <sstream>
#include <type_traits>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/latent.h"
#include "actmap/train/train.h"
#include "model/conv_kernels.h"
#include "model/torch_util.h"

namespace actmap {

TrainingImageFormat training_format(const ModelCard& card, int size) {
  const std::string where = card.path.empty() ? card.name : card.path;
  const TapInfo out = plan_stages(card).back().tap;
  const std::string shape = std::to_string(out.channels) + "x" + std::to_string(out.height) + "x" + std::to_string(out.width);
  if (out.height != out.width || out.height < 8 || (out.height & (out.height - 1)) != 0) {
    throw Error(where + ": the generator outputs " + shape + "; training needs a square power-of-two image of at "
                "least 8x8 (the discriminator halves it down to 4x4)");
  }
  if (out.channels != 1 && out.channels != 3) {
    throw Error(where + ": the generator outputs " + shape + "; training needs 1 (grey) or 3 (RGB) channels");
  }
  if (size != 0 && size != out.height) {
    throw Error("--size " + std::to_string(size) + " does not match the output size " + std::to_string(out.height) +
                "x" + std::to_string(out.width) + " of " + where);
  }
  return TrainingImageFormat{static_cast<int>(out.height), static_cast<int>(out.channels), card.output_low,
                             card.output_high};
}

std::vector<std::int64_t> discriminator_widths(const ModelCard& card) {
  const std::vector<Stage> stages = plan_stages(card);
  const std::int64_t size = training_format(card).size;
  std::vector<std::int64_t> widths;
  for (std::int64_t r = size / 2; r >= 4; r /= 2) {
    std::int64_t w = 0;
    for (std::size_t i = 0; i + 1 < stages.size(); ++i) {  // the output tap is the image itself
      const TapInfo& t = stages[i].tap;
      if (t.height == r && t.width == r) w = std::max(w, t.channels);
    }
    widths.push_back(w ? w : widths.empty() ? 64 : widths.back() * 2);
  }
  return widths;
}

namespace {

using torch::nn::Module;

// Registers `module` at a dotted path ("main.0") under `root`, creating plain modules for the
// names on the way, so that named_parameters() yields exactly the card's keys ("main.0.weight").
void register_at(Module& root, const std::string& path, std::shared_ptr<Module> module) {
  Module* parent = &root;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      parent->register_module(part, std::move(module));
      return;
    }
    const auto children = parent->named_children();
    const std::shared_ptr<Module>* child = children.find(part);
    parent = child ? child->get() : parent->register_module(part, std::make_shared<Module>()).get();
    start = dot + 1;
  }
}

// A network given as a layer list (LayerSpec, as cards describe generators), in train mode.
class LayerNet : public Module {
 public:
  LayerNet(std::vector<LayerSpec> layers, const std::string& where) : layers_(std::move(layers)) {
    for (const LayerSpec& l : layers_) {
      Slot s;
      std::shared_ptr<Module> m;
      switch (l.type) {
        case LayerType::Linear:
          s.linear = torch::nn::Linear(torch::nn::LinearOptions(l.in, l.out).bias(l.bias));
          m = s.linear.ptr();
          break;
        case LayerType::Conv2d:
          s.conv = torch::nn::Conv2d(
              torch::nn::Conv2dOptions(l.in, l.out, l.kernel).stride(l.stride).padding(l.padding).bias(l.bias));
          m = s.conv.ptr();
          break;
        case LayerType::ConvTranspose2d:
          s.conv_t = torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(l.in, l.out, l.kernel)
                                                    .stride(l.stride)
                                                    .padding(l.padding)
                                                    .output_padding(l.output_padding)
                                                    .bias(l.bias));
          m = s.conv_t.ptr();
          break;
        case LayerType::BatchNorm2d:
          s.bn = torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(l.in).eps(l.eps));
          m = s.bn.ptr();
          break;
        default:
          break;
      }
      if (m) {
        try {
          register_at(*this, l.weights, m);
        } catch (const c10::Error& e) {
          throw Error(where + ": layer '" + l.name + "': cannot use weight key prefix '" + l.weights +
                      "': " + torch_error_text(e));
        }
      }
      slots_.push_back(std::move(s));
    }
  }

  at::Tensor forward(at::Tensor x) {
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const LayerSpec& l = layers_[i];
      Slot& s = slots_[i];
      // As in the inference path: a flat vector enters a convolution as [N, C, 1, 1].
      if ((l.type == LayerType::Conv2d || l.type == LayerType::ConvTranspose2d) && x.dim() == 2) {
        x = x.view({x.size(0), x.size(1), 1, 1});
      }
      switch (l.type) {
        case LayerType::Linear: x = s.linear->forward(x.dim() == 2 ? x : x.flatten(1)); break;
        case LayerType::Conv2d: x = s.conv->forward(x); break;
        case LayerType::ConvTranspose2d: x = s.conv_t->forward(x); break;
        case LayerType::BatchNorm2d: x = s.bn->forward(x); break;
        case LayerType::Reshape: {
          std::vector<std::int64_t> shape = {x.size(0)};
          shape.insert(shape.end(), l.shape.begin(), l.shape.end());
          x = x.reshape(shape);
          break;
        }
        case LayerType::ReLU: x = at::relu(x); break;
        case LayerType::LeakyReLU: x = at::leaky_relu(x, l.slope); break;
        case LayerType::SiLU: x = at::silu(x); break;
        case LayerType::Tanh: x = at::tanh(x); break;
        case LayerType::Sigmoid: x = at::sigmoid(x); break;
      }
    }
    return x;
  }

  // DCGAN paper initialisation from `gen`, in registration order (so it is the same every run).
  void init_dcgan(at::Generator& gen) {
    at::NoGradGuard no_grad;
    for (Slot& s : slots_) {
      if (s.bn) {
        s.bn->weight.normal_(1.0, 0.02, gen);
        s.bn->bias.zero_();
        continue;
      }
      const at::Tensor w = s.linear ? s.linear->weight : s.conv ? s.conv->weight : s.conv_t ? s.conv_t->weight : at::Tensor();
      const at::Tensor b = s.linear ? s.linear->bias : s.conv ? s.conv->bias : s.conv_t ? s.conv_t->bias : at::Tensor();
      if (w.defined()) w.normal_(0.0, 0.02, gen);
      if (b.defined()) b.zero_();
    }
  }

 private:
  struct Slot {
    torch::nn::Linear linear{nullptr};
    torch::nn::Conv2d conv{nullptr};
    torch::nn::ConvTranspose2d conv_t{nullptr};
    torch::nn::BatchNorm2d bn{nullptr};
  };
  std::vector<LayerSpec> layers_;
  std::vector<Slot> slots_;
};

// The DCGAN discriminator for `widths` (discriminator_widths): 4x4 stride-2 convolutions, batch
// norm on all but the first (as in the paper: none on D's input layer), LeakyReLU 0.2, and a 4x4
// convolution to one logit. Key names follow the PyTorch DCGAN example's netD (main.0, main.2, ...).
std::vector<LayerSpec> discriminator_layers(std::int64_t channels, const std::vector<std::int64_t>& widths) {
  std::vector<LayerSpec> layers;
  auto add = [&](LayerSpec l) {
    l.name = l.weights = "main." + std::to_string(layers.size());
    layers.push_back(l);
  };
  auto conv = [&](std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t padding) {
    LayerSpec l;
    l.type = LayerType::Conv2d;
    l.in = in, l.out = out, l.kernel = 4, l.stride = stride, l.padding = padding, l.bias = false;
    add(l);
  };
  std::int64_t in = channels;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    conv(in, widths[i], 2, 1);
    if (i > 0) {
      LayerSpec bn;
      bn.type = LayerType::BatchNorm2d;
      bn.in = bn.out = widths[i];
      add(bn);
    }
    LayerSpec act;
    act.type = LayerType::LeakyReLU;
    act.slope = 0.2;
    add(act);
    in = widths[i];
  }
  conv(in, 1, 1, 0);
  return layers;
}

at::Tensor bce(const at::Tensor& logits, double label) {
  return at::binary_cross_entropy_with_logits(logits, at::full_like(logits, label));
}

bool is_step_counter(const std::string& key) {
  const std::string suffix = ".num_batches_tracked";
  return key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Parameters and buffers by name, without batch-norm step counters (momentum is fixed at 0.1, so
// they never affect the result).
std::vector<std::pair<std::string, at::Tensor>> state_tensors(const Module& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers()) {
    if (!is_step_counter(b.key())) out.emplace_back(b.key(), b.value());
  }
  return out;
}

FloatTensor to_float_tensor(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  return FloatTensor{c.sizes().vec(), std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())};
}

// Where Adam keeps a parameter's state: LibTorch 1.x keys it by the printed TensorImpl address
// (as its own optimizer serialisation does), 2.x by the address itself.
using AdamStateKey = std::decay_t<decltype(std::declval<torch::optim::Adam&>().state())>::key_type;
template <class Key>
Key adam_key_as(const at::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}
AdamStateKey adam_key(const at::Tensor& p) { return adam_key_as<AdamStateKey>(p); }

}  // namespace

struct GanTrainer::Impl {
  ModelCard card;
  std::uint64_t seed = 0;
  c10::Device device{c10::kCPU};
  std::vector<std::int64_t> widths;
  std::shared_ptr<LayerNet> g, d;
  std::unique_ptr<torch::optim::Adam> opt_g, opt_d;

  at::Tensor discriminate(const at::Tensor& x) { return d->forward(x).view({-1}); }
};

GanTrainer::GanTrainer(const ModelCard& card, std::uint64_t seed, const std::string& device)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  const std::string where = card.path.empty() ? card.name : card.path;
  if (card.family != "dcgan" && card.family != "sequential") {
    throw Error(where + ": family '" + card.family + "' cannot be trained (dcgan and sequential can)");
  }
  m.card = card;
  m.seed = seed;
  m.device = parse_device(device);
  // LibTorch's kernels already run on its OpenMP threads; OpenBLAS starting its own threads inside
  // them made a step 4-5x slower on 2 cores (ngf 32, batch 64: 23 against 112 images/s).
  if (m.device.is_cpu()) use_single_threaded_blas();
  const TrainingImageFormat format = training_format(card);
  m.widths = actmap::discriminator_widths(card);
  m.g = std::make_shared<LayerNet>(card.layers, where);
  m.d = std::make_shared<LayerNet>(discriminator_layers(format.channels, m.widths), "discriminator");
  at::Generator gen = at::detail::createCPUGenerator(seed);
  m.g->init_dcgan(gen);
  m.d->init_dcgan(gen);
  m.g->to(m.device);
  m.d->to(m.device);
  const auto adam = torch::optim::AdamOptions(2e-4).betas(std::make_tuple(0.5, 0.999));
  m.opt_g = std::make_unique<torch::optim::Adam>(m.g->parameters(), adam);
  m.opt_d = std::make_unique<torch::optim::Adam>(m.d->parameters(), adam);
}

GanTrainer::~GanTrainer() = default;

const std::vector<std::int64_t>& GanTrainer::discriminator_widths() const { return impl_->widths; }

GanTrainer::Losses GanTrainer::step(const at::Tensor& real_in, const at::Tensor& z_in) {
  Impl& m = *impl_;
  const at::Tensor real = real_in.to(m.device), z = z_in.to(m.device);
  m.g->train();
  m.d->train();
  m.opt_d->zero_grad();
  const at::Tensor d_real = bce(m.discriminate(real), 1.0);
  d_real.backward();
  const at::Tensor fake = m.g->forward(z);
  const at::Tensor d_fake = bce(m.discriminate(fake.detach()), 0.0);
  d_fake.backward();
  m.opt_d->step();

  m.opt_g->zero_grad();
  const at::Tensor g_loss = bce(m.discriminate(fake), 1.0);  // non-saturating: maximise log D(G(z))
  g_loss.backward();
  m.opt_g->step();
  return Losses{d_real.item<double>() + d_fake.item<double>(), g_loss.item<double>()};
}

double GanTrainer::discriminator_loss(const at::Tensor& real, const at::Tensor& fake) {
  Impl& m = *impl_;
  at::NoGradGuard no_grad;
  m.d->train();
  return bce(m.discriminate(real.to(m.device)), 1.0).item<double>() +
         bce(m.discriminate(fake.to(m.device)), 0.0).item<double>();
}

double GanTrainer::discriminator_step(const at::Tensor& real, const at::Tensor& fake) {
  Impl& m = *impl_;
  m.d->train();
  m.opt_d->zero_grad();
  const at::Tensor loss = bce(m.discriminate(real.to(m.device)), 1.0) + bce(m.discriminate(fake.to(m.device)), 0.0);
  loss.backward();
  m.opt_d->step();
  return loss.item<double>();
}

at::Tensor GanTrainer::latents(std::int64_t step, std::int64_t count) const {
  const Impl& m = *impl_;
  const std::uint64_t stream = SplitMix64(SplitMix64(m.seed).next() + static_cast<std::uint64_t>(step)).next();
  at::Generator gen = at::detail::createCPUGenerator(stream);
  const std::int64_t nz = m.card.latent.size;
  const at::Tensor z = m.card.latent.distribution == LatentDistribution::Normal
                           ? at::randn({count, nz}, gen)
                           : at::rand({count, nz}, gen) * 2 - 1;
  return z.to(m.device);
}

at::Tensor GanTrainer::generate(const at::Tensor& z) {
  Impl& m = *impl_;
  at::NoGradGuard no_grad;
  m.g->eval();
  at::Tensor out = m.g->forward(z.to(m.device));
  m.g->train();
  return out;
}

std::map<std::string, FloatTensor> GanTrainer::generator_weights() const {
  std::map<std::string, FloatTensor> out;
  for (const auto& [key, t] : state_tensors(*impl_->g)) out[key] = to_float_tensor(t);
  return out;
}

void GanTrainer::save_checkpoint(const std::string& path, const nlohmann::json& position) const {
  const Impl& m = *impl_;
  std::map<std::string, FloatTensor> tensors;
  nlohmann::json adam_steps = nlohmann::json::object();
  auto add = [&](const std::string& net, const LayerNet& model, torch::optim::Adam& opt) {
    for (const auto& [key, t] : state_tensors(model)) tensors[net + "." + key] = to_float_tensor(t);
    adam_steps[net] = nlohmann::json::object();
    for (const auto& p : model.named_parameters()) {
      const auto it = opt.state().find(adam_key(p.value()));
      if (it == opt.state().end()) continue;  // no step taken yet
      const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
      tensors[net + ".adam." + p.key() + ".exp_avg"] = to_float_tensor(s.exp_avg());
      tensors[net + ".adam." + p.key() + ".exp_avg_sq"] = to_float_tensor(s.exp_avg_sq());
      adam_steps[net][p.key()] = s.step();
    }
  };
  add("G", *m.g, *m.opt_g);
  add("D", *m.d, *m.opt_d);
  const nlohmann::json meta = {{"actmap_train_checkpoint", 1}, {"position", position}, {"adam_steps", adam_steps}};
  const std::string bytes = encode_safetensors(tensors, {{"actmap_train", meta.dump()}});
  write_file_atomic(path, bytes);
}

nlohmann::json GanTrainer::load_checkpoint(const std::string& path) {
  Impl& m = *impl_;
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  const SafetensorsHeader header = parse_safetensors_header(bytes.data(), bytes.size(), path);
  const auto meta_it = header.metadata.find("actmap_train");
  if (meta_it == header.metadata.end()) {
    throw Error(path + ": not an actmap training checkpoint (no 'actmap_train' metadata)");
  }
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(meta_it->second);
    if (!meta.at("position").is_object() || !meta.at("adam_steps").is_object()) throw Error("bad layout");
  } catch (const std::exception&) {
    throw Error(path + ": metadata 'actmap_train' is not a valid checkpoint description");
  }
  std::map<std::string, FloatTensor> tensors = parse_safetensors(bytes.data(), bytes.size(), path);
  std::size_t used = 0;
  auto take = [&](const std::string& key, const at::Tensor& like) {
    const auto it = tensors.find(key);
    if (it == tensors.end()) throw Error(path + ": missing key '" + key + "' (was it written for this card?)");
    if (it->second.shape != like.sizes().vec()) {
      throw Error(path + ": key '" + key + "': expected shape " + shape_string(like.sizes()) + ", got " +
                  shape_string(it->second.shape) + " (was it written for this card?)");
    }
    ++used;
    return at::from_blob(it->second.data.data(), it->second.shape, at::kFloat).clone().to(like.device());
  };
  at::NoGradGuard no_grad;
  auto load = [&](const std::string& net, LayerNet& model, torch::optim::Adam& opt) {
    for (auto& [key, t] : state_tensors(model)) t.copy_(take(net + "." + key, t));
    const nlohmann::json& steps = meta["adam_steps"].value(net, nlohmann::json::object());
    opt.state().clear();
    for (const auto& p : model.named_parameters()) {
      if (!steps.contains(p.key())) continue;
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(steps[p.key()].get<std::int64_t>());
      s->exp_avg(take(net + ".adam." + p.key() + ".exp_avg", p.value()));
      s->exp_avg_sq(take(net + ".adam." + p.key() + ".exp_avg_sq", p.value()));
      opt.state()[adam_key(p.value())] = std::move(s);
    }
  };
  load("G", *m.g, *m.opt_g);
  load("D", *m.d, *m.opt_d);
  if (used != tensors.size()) {
    throw Error(path + ": " + std::to_string(tensors.size() - used) +
                " tensors not used by this model (was it written for another card?)");
  }
  return meta["position"];
}

}  // namespace actmap
