// Checkpoint import: format detection, the three container formats (torch zip, legacy torch.save,
// plain pickles such as NVIDIA's network pickles), locating the state dict, and converting
// tensors to float32. The pickle VM (pickle.cpp) only ever builds data.
#include "actmap/io/checkpoint_import.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "io/float_bits.h"
#include "io/pickle.h"
#include "io/zip_reader.h"

namespace actmap {
namespace {

using pickle::DType;
using pickle::Kind;
using pickle::StorageRef;
using pickle::Value;

// 0x1950a86a20f9469cfc6c, the magic number legacy torch.save writes first, as LONG1 bytes.
const std::string kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
constexpr int kLegacyProtocol = 1001;
constexpr int kMaxModuleDepth = 64;

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }

// One import: the bytes, the heap of pickle values, and the storages found.
class Importer {
 public:
  Importer(const std::uint8_t* bytes, std::size_t size, std::string name, const ImportOptions& options)
      : bytes_(bytes), size_(size), name_(std::move(name)), options_(options),
        // Every value needs an opcode byte; at most 4M values (about 230 bytes each: under 1 GB
        // whatever the file claims; a real generator's pickle builds tens of thousands).
        heap_(std::min<std::size_t>(2 * size + 4096, std::size_t(4) << 20)) {}

  ImportResult run();
  std::string read_data();

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(name_ + ": " + what); }

  Value* load_root();
  Value* load_zip();
  Value* load_plain_or_legacy();
  std::uint64_t check_view(const std::string& where, const pickle::TensorRef& t);
  Value* load_legacy(const std::uint8_t* d, std::size_t n, std::size_t pos, const std::string& label, bool nested);
  Value* zip_persistent_load(Value* pid);
  std::uint64_t storage_bytes(const StorageRef& s, const std::string& label) const;

  Value* locate(Value* root, std::string& prefix);
  void collect(Value* v, ImportResult& result);
  void collect_module(Value* obj, const std::string& prefix, int depth, ImportResult& result);
  void add_tensor(const std::string& key, Value* v, ImportResult& result);
  bool convert(const std::string& key, const pickle::TensorRef& t, FloatTensor& out, std::string& skip_reason);
  nlohmann::json module_config(Value* module, const std::string& repository) const;
  nlohmann::json module_kwargs(Value* module) const;
  ImportResult run_tf(Value* root);
  void collect_tf(const Value* net, const std::string& prefix, int depth, std::map<std::string, FloatTensor>& out);
  void refuse_non_generators(const Value* root) const;

  const std::uint8_t* bytes_;
  std::size_t size_;
  std::string name_;
  ImportOptions options_;
  pickle::Heap heap_;
  std::string format_;
  // zip
  std::unique_ptr<ZipReader> zip_;
  std::string zip_prefix_;
  std::unordered_map<std::string, StorageRef*> zip_storages_;
  std::uint64_t storage_elements_ = 0;  // all storages' elements: bounds what tensors may view
  std::uint64_t elements_out_ = 0;
  std::size_t module_visits_ = 0;       // bounded by the number of objects: shared submodules
                                        // cannot multiply the walk
};

std::uint64_t Importer::storage_bytes(const StorageRef& s, const std::string& label) const {
  std::uint64_t bytes;
  if (mul_overflows(s.numel, pickle::dtype_size(s.dtype), bytes) || bytes > (std::uint64_t(1) << 60)) {
    fail(label + " claims " + std::to_string(s.numel) + " " + pickle::dtype_name(s.dtype) +
         " elements, an impossible size");
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// torch zip format: ARCHIVE/data.pkl with persistent ids ('storage', type, key, location, numel)
// naming ARCHIVE/data/KEY.

Value* Importer::zip_persistent_load(Value* pid) {
  if (pid->kind != Kind::Tuple || pid->items.size() != 5 || !pid->items[0]->is_str() ||
      pid->items[0]->text != "storage") {
    fail("data.pkl: persistent id is " + pickle::describe(pid) + ", not ('storage', type, key, location, numel)");
  }
  const Value* type = pid->items[1];
  const Value* key = pid->items[2];
  const Value* numel = pid->items[4];
  if (type->kind != Kind::Global || type->handler != pickle::Handler::StorageType) {
    fail("data.pkl: storage type is " + pickle::describe(type) + ", not a torch storage type");
  }
  if (!key->is_str()) fail("data.pkl: storage key is " + pickle::describe(key) + ", not a string");
  if (numel->kind != Kind::Int || numel->i < 0) fail("data.pkl: storage '" + key->text + "' has a bad element count");
  Value* v = heap_.make(Kind::Storage);
  auto it = zip_storages_.find(key->text);
  if (it != zip_storages_.end()) {
    v->storage = it->second;
    return v;
  }
  StorageRef* s = heap_.make_storage();
  s->dtype = type->dtype;
  s->key = key->text;
  s->numel = static_cast<std::uint64_t>(numel->i);
  const std::string entry_name = zip_prefix_ + "data/" + key->text;
  const std::string label = "storage '" + key->text + "'";
  const std::uint64_t need = storage_bytes(*s, label);
  const ZipEntry* e = zip_->find(entry_name);
  if (!e) fail(label + ": entry '" + entry_name + "' is missing from the archive");
  ZipData data = zip_->read(*e);
  if (data.size < need) {
    fail(label + " claims " + std::to_string(s->numel) + " " + pickle::dtype_name(s->dtype) + " elements (" +
         std::to_string(need) + " bytes) but entry '" + entry_name + "' holds " + std::to_string(data.size) + " bytes");
  }
  s->data = data.owned.empty() ? data.data : heap_.keep_buffer(std::move(data.owned))->data();
  storage_elements_ += s->numel;
  zip_storages_.emplace(key->text, s);
  v->storage = s;
  return v;
}

Value* Importer::load_zip() {
  format_ = "zip";
  zip_ = std::make_unique<ZipReader>(bytes_, size_, name_);
  const ZipEntry* pkl = nullptr;
  for (const auto& e : zip_->entries()) {
    const std::size_t n = e.name.size();
    if ((n >= 9 && e.name.compare(n - 9, 9, "/data.pkl") == 0) || e.name == "data.pkl") {
      pkl = &e;
      break;
    }
  }
  if (!pkl) fail("zip archive has no data.pkl entry: not a torch.save file");
  zip_prefix_ = pkl->name.substr(0, pkl->name.size() - 8);
  if (const ZipEntry* bo = zip_->find(zip_prefix_ + "byteorder")) {
    const ZipData d = zip_->read(*bo);
    const std::string order(reinterpret_cast<const char*>(d.data), d.size);
    if (order != "little") fail("the checkpoint was written big-endian ('" + order.substr(0, 16) + "'); only little-endian is supported");
  }
  ZipData data = zip_->read(*pkl);
  const std::uint8_t* p = data.owned.empty() ? data.data : heap_.keep_buffer(std::move(data.owned))->data();
  pickle::UnpicklerHooks hooks;
  hooks.persistent_load = [this](Value* pid) { return zip_persistent_load(pid); };
  std::size_t pos = 0;
  return pickle::unpickle(heap_, p, data.size, pos, name_ + ", entry '" + pkl->name + "'", hooks);
}

// ---------------------------------------------------------------------------------------------
// Legacy torch.save: magic, protocol, sys info, the main pickle (persistent ids
// ('storage', type, root_key, location, numel, view_metadata)), the list of storage keys, then
// each storage as an 8-byte little-endian element count and its raw bytes.

Value* Importer::load_legacy(const std::uint8_t* d, std::size_t n, std::size_t pos, const std::string& label,
                             bool nested) {
  pickle::UnpicklerHooks none;
  Value* proto = pickle::unpickle(heap_, d, n, pos, label, none);
  if (proto->kind != Kind::Int || proto->i != kLegacyProtocol) {
    throw Error(label + ": legacy torch.save protocol is " + pickle::describe(proto) + ", expected " +
                std::to_string(kLegacyProtocol));
  }
  Value* sys_info = pickle::unpickle(heap_, d, n, pos, label, none);
  if (const Value* le = sys_info->get("little_endian"); le && le->kind == Kind::Bool && !le->b) {
    throw Error(label + ": the checkpoint was written on a big-endian machine; only little-endian is supported");
  }
  std::unordered_map<std::string, StorageRef*> roots;
  std::vector<StorageRef*> views;
  pickle::UnpicklerHooks hooks;
  hooks.persistent_load = [&](Value* pid) {
    const auto& it = pid->items;
    if (pid->kind != Kind::Tuple || it.size() != 6 || !it[0]->is_str()) {
      throw Error(label + ": persistent id is " + pickle::describe(pid) +
                  ", not ('storage', type, key, location, numel, view)");
    }
    if (it[0]->text != "storage") {
      throw Error(label + ": the checkpoint pickles a whole '" + it[0]->text +
                  "' (source code), not a state dict; save model.state_dict() instead");
    }
    if (it[1]->kind != Kind::Global || it[1]->handler != pickle::Handler::StorageType) {
      throw Error(label + ": storage type is " + pickle::describe(it[1]) + ", not a torch storage type");
    }
    if (!it[2]->is_str() || it[4]->kind != Kind::Int || it[4]->i < 0) {
      throw Error(label + ": malformed storage id " + pickle::describe(pid));
    }
    StorageRef*& root = roots[it[2]->text];
    if (!root) {
      root = heap_.make_storage();
      root->dtype = it[1]->dtype;
      root->key = it[2]->text;
      root->numel = static_cast<std::uint64_t>(it[4]->i);
    }
    Value* v = heap_.make(Kind::Storage);
    v->storage = root;
    const Value* view = it[5];
    if (view->kind == Kind::Tuple) {
      if (view->items.size() != 3 || !view->items[0]->is_str() || view->items[1]->kind != Kind::Int ||
          view->items[2]->kind != Kind::Int || view->items[1]->i < 0 || view->items[2]->i < 0) {
        throw Error(label + ": malformed storage view of '" + root->key + "'");
      }
      const auto off = static_cast<std::uint64_t>(view->items[1]->i), len = static_cast<std::uint64_t>(view->items[2]->i);
      if (off > root->numel || len > root->numel - off) {
        throw Error(label + ": storage view '" + view->items[0]->text + "' (elements " + std::to_string(off) + " to " +
                    std::to_string(off + len) + ") lies outside storage '" + root->key + "' (" +
                    std::to_string(root->numel) + " elements)");
      }
      StorageRef* s = heap_.make_storage();
      s->dtype = root->dtype;
      s->key = view->items[0]->text;
      s->numel = len;
      s->root = root;
      s->view_offset = off;
      views.push_back(s);
      v->storage = s;
    } else if (view->kind != Kind::None) {
      throw Error(label + ": malformed storage view of '" + root->key + "'");
    }
    return v;
  };
  Value* result = pickle::unpickle(heap_, d, n, pos, label, hooks);
  Value* keys = pickle::unpickle(heap_, d, n, pos, label, none);
  if (keys->kind != Kind::List) throw Error(label + ": the storage key list is " + pickle::describe(keys));
  for (const Value* k : keys->items) {
    if (!k->is_str()) throw Error(label + ": a storage key is " + pickle::describe(k));
    const auto it = roots.find(k->text);
    if (it == roots.end()) throw Error(label + ": storage '" + k->text + "' is listed but no tensor uses it");
    StorageRef* s = it->second;
    if (s->data) throw Error(label + ": storage '" + k->text + "' is listed twice");
    if (n - pos < 8) throw Error(label + ": truncated before the data of storage '" + k->text + "'");
    const std::uint64_t count = load_u64(d + pos);
    pos += 8;
    if (count != s->numel) {
      throw Error(label + ": storage '" + k->text + "' holds " + std::to_string(count) + " elements but its tensors claim " +
                  std::to_string(s->numel));
    }
    const std::uint64_t bytes = storage_bytes(*s, "storage '" + k->text + "'");
    if (bytes > n - pos) {
      throw Error(label + ": storage '" + k->text + "' claims " + std::to_string(count) + " " + pickle::dtype_name(s->dtype) +
                  " elements (" + std::to_string(bytes) + " bytes) but only " + std::to_string(n - pos) +
                  " bytes are left in the file");
    }
    s->data = d + pos;
    pos += bytes;
    storage_elements_ += s->numel;
  }
  for (StorageRef* s : views) {
    if (s->root->data) s->data = s->root->data + s->view_offset * pickle::dtype_size(s->dtype);
  }
  if (nested && result->kind != Kind::Storage) {
    throw Error(label + ": holds " + pickle::describe(result) + ", not a storage");
  }
  return result;
}

Value* Importer::load_plain_or_legacy() {
  pickle::UnpicklerHooks hooks;
  int embedded = 0;
  // The same bytes (one value fetched from the memo again and again) are parsed once.
  std::map<std::pair<const std::uint8_t*, std::size_t>, Value*> parsed;
  hooks.load_from_bytes = [&](const std::uint8_t* d, std::size_t n) {
    Value*& cached = parsed[{d, n}];
    if (cached) return cached;
    const std::string label = name_ + ", embedded storage " + std::to_string(++embedded);
    std::size_t pos = 0;
    pickle::UnpicklerHooks none;
    Value* magic = pickle::unpickle(heap_, d, n, pos, label, none);
    if (magic->kind != Kind::BigInt || magic->text != kLegacyMagic) {
      throw Error(label + ": torch.storage._load_from_bytes holds no legacy torch.save data");
    }
    cached = load_legacy(d, n, pos, label, true);
    return cached;
  };
  std::size_t pos = 0;
  Value* first = pickle::unpickle(heap_, bytes_, size_, pos, name_, hooks);
  if (first->kind == Kind::BigInt && first->text == kLegacyMagic) {
    format_ = "legacy";
    return load_legacy(bytes_, size_, pos, name_, false);
  }
  format_ = "pickle";
  return first;
}

// ---------------------------------------------------------------------------------------------
// numpy arrays inside pickles (NVIDIA's TensorFlow networks hold their variables as numpy arrays):
// numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') built with (version, shape, dtype,
// is_fortran, raw bytes); numpy.core.multiarray.scalar(dtype, raw bytes); numpy.core.numeric.
// _frombuffer(bytes, dtype, shape, order) (protocol 5). dtype is numpy.dtype('f4', ...) built with
// (version, byte order, ...). Only the records' data is read: numpy is never involved.

bool is_numpy_record(const Value* v, const char* name) {
  if (!v || v->kind != Kind::Object) return false;
  const std::string& t = v->text;
  for (const char* module : {"numpy.core.multiarray.", "numpy._core.multiarray.", "numpy.core.numeric.", "numpy._core.numeric."}) {
    if (t == std::string(module) + name) return true;
  }
  return false;
}

bool is_numpy_value(const Value* v) {
  return is_numpy_record(v, "_reconstruct") || is_numpy_record(v, "scalar") || is_numpy_record(v, "_frombuffer");
}

// The element type of a numpy.dtype record: DType::F32, F16 or F64 (little-endian), else None.
DType numpy_dtype(const Value* d, std::string& name) {
  if (!d || d->kind != Kind::Object || d->text.size() < 6 || d->text.compare(d->text.size() - 6, 6, ".dtype") != 0 || !d->args ||
      d->args->kind != Kind::Tuple || d->args->items.empty() || !d->args->items[0]->is_str()) {
    name = pickle::describe(d);
    return DType::None;
  }
  name = d->args->items[0]->text;
  if (d->state && d->state->kind == Kind::Tuple && d->state->items.size() >= 2 && d->state->items[1]->is_str() &&
      d->state->items[1]->text == ">") {
    name = ">" + name;
    return DType::None;  // big-endian
  }
  if (name == "f4" || name == "float32") return DType::F32;
  if (name == "f2" || name == "float16") return DType::F16;
  if (name == "f8" || name == "float64") return DType::F64;
  return DType::None;
}

// Reads a numpy array record into `out`; throws naming `key` when the record is malformed or its
// data does not fit its shape. Returns false for non-float arrays (`skip` says what it was).
bool numpy_to_float(const std::string& label, const std::string& key, const Value* v, FloatTensor& out, std::string& skip) {
  auto fail = [&](const std::string& what) -> bool { throw Error(label + ": numpy array '" + key + "': " + what); };
  const Value* dtype = nullptr;
  const Value* shape = nullptr;
  const Value* data = nullptr;
  bool fortran = false;
  if (is_numpy_record(v, "_reconstruct")) {
    const Value* st = v->state;
    if (!st || st->kind != Kind::Tuple || (st->items.size() != 5 && st->items.size() != 4)) fail("malformed state " + pickle::describe(st));
    const std::size_t o = st->items.size() == 5 ? 1 : 0;
    shape = st->items[o];
    dtype = st->items[o + 1];
    fortran = st->items[o + 2]->kind == Kind::Bool ? st->items[o + 2]->b : st->items[o + 2]->i != 0;
    data = st->items[o + 3];
  } else if (is_numpy_record(v, "scalar")) {
    if (!v->args || v->args->kind != Kind::Tuple || v->args->items.size() != 2) fail("malformed scalar");
    dtype = v->args->items[0];
    data = v->args->items[1];
  } else {
    if (!v->args || v->args->kind != Kind::Tuple || v->args->items.size() != 4) fail("malformed _frombuffer call");
    data = v->args->items[0];
    dtype = v->args->items[1];
    shape = v->args->items[2];
    fortran = v->args->items[3]->is_str() && v->args->items[3]->text == "F";
  }
  std::vector<std::int64_t> dims;
  if (shape) {
    if (shape->kind != Kind::Tuple && shape->kind != Kind::List) fail("shape is " + pickle::describe(shape));
    for (const Value* d : shape->items) {
      if (d->kind != Kind::Int || d->i < 0) fail("shape has " + pickle::describe(d));
      dims.push_back(d->i);
    }
  }
  std::string type_name;
  const DType t = numpy_dtype(dtype, type_name);
  if (t == DType::None) {
    skip = key + " (numpy " + type_name + " " + shape_text(dims) + ")";
    return false;
  }
  if (!data || data->kind != Kind::Bytes) fail("its data is " + pickle::describe(data) + ", not bytes");
  std::uint64_t numel = 1;
  for (auto d : dims) {
    if (mul_overflows(numel, static_cast<std::uint64_t>(d), numel) || numel > (std::uint64_t(1) << 40)) fail("too many elements");
  }
  const std::size_t es = pickle::dtype_size(t);
  std::uint64_t need = 0;
  if (mul_overflows(numel, es, need) || need != data->size) {
    fail("shape " + shape_text(dims) + " of " + type_name + " needs " + std::to_string(numel) + " elements, the data holds " +
         std::to_string(data->size) + " bytes");
  }
  out.shape = dims;
  out.data.resize(numel);
  // Fortran order: element (i0, ..., in) sits at i0 + d0 * (i1 + d1 * (...)).
  std::vector<std::uint64_t> stride(dims.size(), 1);
  if (fortran) {
    std::uint64_t acc = 1;
    for (std::size_t d = 0; d < dims.size(); ++d) {
      stride[d] = acc;
      acc *= static_cast<std::uint64_t>(dims[d]);
    }
  }
  std::vector<std::int64_t> idx(dims.size(), 0);
  for (std::uint64_t i = 0; i < numel; ++i) {
    std::uint64_t src = i;
    if (fortran) {
      src = 0;
      for (std::size_t d = 0; d < dims.size(); ++d) src += static_cast<std::uint64_t>(idx[d]) * stride[d];
      for (std::size_t d = dims.size(); d-- > 0;) {
        if (++idx[d] < dims[d]) break;
        idx[d] = 0;
      }
    }
    const std::uint8_t* p = data->data + src * es;
    out.data[i] = t == DType::F32 ? load_f32(p) : t == DType::F16 ? half_to_float(load_u16(p)) : static_cast<float>(load_f64(p));
  }
  return true;
}

bool is_tf_network(const Value* v) {
  return v && v->kind == Kind::Object && v->text == "dnnlib.tflib.network.Network" && v->state && v->state->kind == Kind::Dict;
}

// ---------------------------------------------------------------------------------------------
// Finding the state dict.

bool is_module(const Value* v) {
  return v && v->kind == Kind::Object && v->state && v->state->kind == Kind::Dict &&
         (v->state->get("_parameters") || v->state->get("_modules"));
}

std::size_t tensor_count(const Value* v) {
  if (!v || v->kind != Kind::Dict) return 0;
  std::size_t n = 0;
  for (const auto& [k, val] : v->entries) n += val->kind == Kind::Tensor;
  return n;
}

bool is_state_dict(const Value* v) {
  if (!v || v->kind != Kind::Dict || v->entries.empty()) return false;
  for (const auto& [k, val] : v->entries) {
    if (!k->is_str() || (val->kind != Kind::Tensor && val->kind != Kind::None)) return false;
  }
  return tensor_count(v) > 0;
}

std::string keys_summary(const Value* dict) {
  std::string s, with_tensors;
  for (const auto& [k, v] : dict->entries) {
    const std::string name = k->is_str() ? k->text : "(a non-string key)";
    s += (s.empty() ? "" : ", ") + name;
    if (is_state_dict(v) || is_module(v)) with_tensors += (with_tensors.empty() ? "" : ", ") + name;
  }
  return "the keys are [" + s + "]" + (with_tensors.empty() ? "; none holds a state dict" : "; state dicts under: " + with_tensors);
}

Value* Importer::locate(Value* root, std::string& prefix) {
  if (!options_.prefix.empty()) {
    Value* v = root;
    std::string walked;
    std::size_t start = 0;
    while (start <= options_.prefix.size()) {
      const std::size_t dot = std::min(options_.prefix.find('.', start), options_.prefix.size());
      const std::string part = options_.prefix.substr(start, dot - start);
      Value* next = nullptr;
      if (v->kind == Kind::Dict) next = v->get(part);
      else if (is_module(v)) next = v->state->get("_modules") ? v->state->get("_modules")->get(part) : nullptr;
      if (!next) {
        fail("--prefix '" + options_.prefix + "': no key '" + part + "'" + (walked.empty() ? "" : " under '" + walked + "'") +
             (v->kind == Kind::Dict ? "; " + keys_summary(v) : " (" + pickle::describe(v) + ")"));
      }
      walked += (walked.empty() ? "" : ".") + part;
      v = next;
      start = dot + 1;
    }
    if (v->kind != Kind::Dict && !is_module(v)) {
      fail("--prefix '" + options_.prefix + "' names " + pickle::describe(v) + ", not a state dict");
    }
    if (!is_module(v) && tensor_count(v) == 0) {
      fail("--prefix '" + options_.prefix + "' names a dict without tensors; " + keys_summary(v));
    }
    prefix = options_.prefix;
    return v;
  }
  if (is_state_dict(root) || is_module(root)) return root;
  if (root->kind != Kind::Dict) fail("the checkpoint holds " + pickle::describe(root) + ", not a state dict");
  for (const char* key : {"g_ema", "G_ema", "state_dict", "generator", "model"}) {
    Value* v = root->get(key);
    if (is_state_dict(v) || is_module(v)) {
      prefix = key;
      return v;
    }
  }
  if (tensor_count(root) > 0) return root;  // a state dict with a few non-tensor entries
  fail("no state dict found: " + keys_summary(root) + "; pick one with --prefix KEY");
}

std::uint64_t Importer::check_view(const std::string& where, const pickle::TensorRef& t) {
  const StorageRef& s = *t.storage;
  std::uint64_t numel = 1, last = static_cast<std::uint64_t>(t.offset);
  if (t.offset < 0) fail(where + " has a negative storage offset " + std::to_string(t.offset));
  for (std::size_t d = 0; d < t.size.size(); ++d) {
    if (t.size[d] < 0 || t.stride[d] < 0) {
      fail(where + " has a negative size or stride: shape " + shape_text(t.size) + ", stride " + shape_text(t.stride));
    }
    if (mul_overflows(numel, static_cast<std::uint64_t>(t.size[d]), numel) || numel > (std::uint64_t(1) << 40)) {
      fail(where + ": shape " + shape_text(t.size) + " has too many elements");
    }
  }
  if (numel > 0) {
    for (std::size_t d = 0; d < t.size.size(); ++d) {
      std::uint64_t reach;
      if (mul_overflows(static_cast<std::uint64_t>(t.size[d] - 1), static_cast<std::uint64_t>(t.stride[d]), reach) ||
          __builtin_add_overflow(last, reach, &last)) {
        fail(where + ": strides " + shape_text(t.stride) + " overflow");
      }
    }
    if (last >= s.numel) {
      fail(where + " (shape " + shape_text(t.size) + ", stride " + shape_text(t.stride) + ", offset " +
           std::to_string(t.offset) + ") reaches element " + std::to_string(last) + " of its storage '" + s.key +
           "', which holds " + std::to_string(s.numel));
    }
  }
  elements_out_ += numel;
  if (elements_out_ > 2 * storage_elements_ + 65536) {
    fail(where + ": the tensors view " + std::to_string(elements_out_) + " elements, far more than the " +
         std::to_string(storage_elements_) + " their storages hold; refusing an expansion bomb");
  }
  return numel;
}

bool Importer::convert(const std::string& key, const pickle::TensorRef& t, FloatTensor& out, std::string& skip) {
  const StorageRef& s = *t.storage;
  const std::string where = "tensor '" + key + "'";
  if (!s.data) fail(where + ": its storage '" + s.key + "' has no data in the file");
  if (!pickle::dtype_is_float(s.dtype)) {
    skip = key + " (" + pickle::dtype_name(s.dtype) + " " + shape_text(t.size) + ")";
    return false;
  }
  const std::uint64_t numel = check_view(where, t);
  out.shape = t.size;
  out.data.resize(numel);
  const std::size_t es = pickle::dtype_size(s.dtype);
  auto load = [&](std::uint64_t i) -> float {
    const std::uint8_t* p = s.data + i * es;
    switch (s.dtype) {
      case DType::F32: return load_f32(p);
      case DType::F16: return half_to_float(load_u16(p));
      case DType::BF16: return bf16_to_float(load_u16(p));
      default: return static_cast<float>(load_f64(p));
    }
  };
  // Walk the view in C order with an odometer over the dimensions.
  const std::size_t nd = t.size.size();
  std::vector<std::int64_t> idx(nd, 0);
  std::uint64_t src = static_cast<std::uint64_t>(t.offset);
  for (std::uint64_t i = 0; i < numel; ++i) {
    out.data[i] = load(src);
    for (std::size_t d = nd; d-- > 0;) {
      src += static_cast<std::uint64_t>(t.stride[d]);
      if (++idx[d] < t.size[d]) break;
      src -= static_cast<std::uint64_t>(t.stride[d]) * static_cast<std::uint64_t>(t.size[d]);
      idx[d] = 0;
    }
  }
  return true;
}

void Importer::add_tensor(const std::string& key, Value* v, ImportResult& result) {
  if (v->kind == Kind::None) return;
  if (v->kind != Kind::Tensor) {
    result.skipped.push_back(key + " (" + pickle::describe(v) + ")");
    return;
  }
  FloatTensor t;
  std::string skip;
  if (convert(key, *v->tensor, t, skip)) {
    result.tensors[key] = std::move(t);
  } else {
    result.skipped.push_back(skip);
  }
}

void Importer::collect_module(Value* obj, const std::string& prefix, int depth, ImportResult& result) {
  if (depth > kMaxModuleDepth) fail("modules nested deeper than " + std::to_string(kMaxModuleDepth) + " levels at '" + prefix + "'");
  if (++module_visits_ > heap_.size()) fail("module '" + prefix + "': submodules are shared so often that the walk would not end");
  const Value* state = obj->state;
  std::vector<std::string> non_persistent;
  if (const Value* np = state->get("_non_persistent_buffers_set"); np && np->kind == Kind::Set) {
    for (const Value* x : np->items) {
      if (x->is_str()) non_persistent.push_back(x->text);
    }
  }
  for (const char* field : {"_parameters", "_buffers"}) {
    const Value* d = state->get(field);
    if (!d) continue;
    if (d->kind != Kind::Dict) fail("module '" + prefix + "': " + field + " is " + pickle::describe(d));
    for (const auto& [k, v] : d->entries) {
      if (!k->is_str()) fail("module '" + prefix + "': a " + field + " key is not a string");
      if (std::string(field) == "_buffers" &&
          std::find(non_persistent.begin(), non_persistent.end(), k->text) != non_persistent.end()) {
        continue;
      }
      add_tensor(prefix + k->text, v, result);
    }
  }
  if (const Value* mods = state->get("_modules")) {
    if (mods->kind != Kind::Dict) fail("module '" + prefix + "': _modules is " + pickle::describe(mods));
    for (const auto& [k, v] : mods->entries) {
      if (!k->is_str()) fail("module '" + prefix + "': a submodule key is not a string");
      if (v->kind == Kind::None) continue;
      if (!is_module(v)) fail("module '" + prefix + k->text + "' is " + pickle::describe(v) + ", not a module");
      collect_module(v, prefix + k->text + ".", depth + 1, result);
    }
  }
}

void Importer::collect(Value* v, ImportResult& result) {
  if (is_module(v)) {
    collect_module(v, "", 0, result);
    return;
  }
  for (const auto& [k, val] : v->entries) {
    if (!k->is_str()) {
      result.skipped.push_back("(a non-string key)");
      continue;
    }
    add_tensor(k->text, val, result);
  }
}

// Python data (dicts, lists, numbers, strings) as JSON; anything else as its description.
nlohmann::json to_json(const Value* v, int depth, std::size_t& budget) {
  if (depth > 32 || budget == 0) return nullptr;
  --budget;
  switch (v->kind) {
    case Kind::None: return nullptr;
    case Kind::Bool: return v->b;
    case Kind::Int: return v->i;
    case Kind::Float: return v->f;
    case Kind::Str: return v->text;
    case Kind::Tuple: case Kind::List: {
      nlohmann::json a = nlohmann::json::array();
      for (const Value* x : v->items) a.push_back(to_json(x, depth + 1, budget));
      return a;
    }
    case Kind::Dict: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& [k, x] : v->entries) {
        if (k->is_str()) o[k->text] = to_json(x, depth + 1, budget);
      }
      return o;
    }
    default: return pickle::describe(v);
  }
}

// The constructor arguments NVIDIA's persistence records (_init_args, _init_kwargs) as given,
// positional ones under the Generator's parameter names (StyleGAN3: the config comes from these).
nlohmann::json Importer::module_kwargs(Value* module) const {
  const Value* kwargs = module->state->get("_init_kwargs");
  const Value* args = module->state->get("_init_args");
  std::size_t budget = 10000;
  nlohmann::json given = kwargs && kwargs->kind == Kind::Dict ? to_json(kwargs, 0, budget) : nlohmann::json::object();
  if (args && (args->kind == Kind::Tuple || args->kind == Kind::List)) {
    const char* order[] = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs"};
    for (std::size_t i = 0; i < args->items.size() && i < 6; ++i) given[order[i]] = to_json(args->items[i], 0, budget);
  }
  return given;
}

// The NVIDIA repository whose module source a persistent pickle embeds: the stylegan3
// repository's networks (networks_stylegan2.py, networks_stylegan3.py) take update_emas,
// stylegan2-ada-pytorch's networks.py predates it.
std::string nvidia_repository(const Value* module) {
  const Value* src = module && module->args ? module->args->get("module_src") : nullptr;
  return src && src->is_str() && src->text.find("update_emas") != std::string::npos ? "stylegan3" : "stylegan2-ada-pytorch";
}

// The constructor arguments NVIDIA's persistence records (_init_args, _init_kwargs) in the
// official layout, defaults filled in (those of `repository`, nvidia_repository's answer, where the
// two differ).
nlohmann::json Importer::module_config(Value* module, const std::string& repository) const {
  const Value* state = module->state;
  const Value* kwargs = state->get("_init_kwargs");
  const Value* args = state->get("_init_args");
  std::size_t budget = 10000;  // nodes: configs are small, shared references must not multiply
  nlohmann::json given = kwargs && kwargs->kind == Kind::Dict ? to_json(kwargs, 0, budget) : nlohmann::json::object();
  // The Generator's own parameters, in order; any other keyword is a synthesis argument.
  const std::array<const char*, 7> order = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs",
                                            "synthesis_kwargs"};
  if (args && (args->kind == Kind::Tuple || args->kind == Kind::List)) {
    for (std::size_t i = 0; i < args->items.size() && i < order.size(); ++i) given[order[i]] = to_json(args->items[i], 0, budget);
  }
  nlohmann::json config = {{"z_dim", 512}, {"c_dim", 0}, {"w_dim", 512}, {"img_resolution", nullptr}, {"img_channels", 3}};
  for (const char* k : {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"}) {
    if (given.contains(k)) config[k] = given[k];
  }
  nlohmann::json mapping = {{"num_layers", 8}, {"lr_multiplier", 0.01}};
  nlohmann::json synthesis = {{"channel_base", 32768}, {"channel_max", 512}, {"conv_clamp", nullptr},
                              {"architecture", "skip"}, {"num_fp16_res", 0}};
  if (repository == "stylegan3") {
    // networks_stylegan2.py's own defaults, which its pickles do not record when they were used:
    // SynthesisNetwork num_fp16_res 4, SynthesisBlock conv_clamp 256 and fused_modconv_default
    // True (the fused form at every batch size outside training).
    synthesis["num_fp16_res"] = 4;
    synthesis["conv_clamp"] = 256;
    synthesis["fused_modconv_default"] = true;
  }
  if (given.contains("mapping_kwargs") && given["mapping_kwargs"].is_object()) mapping.update(given["mapping_kwargs"]);
  if (given.contains("synthesis_kwargs") && given["synthesis_kwargs"].is_object()) synthesis.update(given["synthesis_kwargs"]);
  // The stylegan3 repository's networks_stylegan2.Generator takes the synthesis arguments flat
  // (**synthesis_kwargs): every other keyword is one of them.
  for (const auto& [k, v] : given.items()) {
    if (std::find(order.begin(), order.end(), k) == order.end()) synthesis[k] = v;
  }
  config["mapping_kwargs"] = mapping;
  config["synthesis_kwargs"] = synthesis;
  return config;
}

// A dnnlib.tflib Network's variables, prefixed by component ("mapping/Dense0/weight"), as
// legacy.py's _collect_tf_params gathers them.
void Importer::collect_tf(const Value* net, const std::string& prefix, int depth, std::map<std::string, FloatTensor>& out) {
  if (depth > kMaxModuleDepth) fail("TensorFlow components nested deeper than " + std::to_string(kMaxModuleDepth) + " levels");
  if (++module_visits_ > heap_.size()) fail("TensorFlow network '" + prefix + "': components are shared so often that the walk would not end");
  const Value* vars = net->state->get("variables");
  if (!vars || (vars->kind != Kind::List && vars->kind != Kind::Tuple)) {
    fail("TensorFlow network '" + prefix + "': 'variables' is " + pickle::describe(vars) + ", not a list of (name, array)");
  }
  for (const Value* item : vars->items) {
    if (item->kind != Kind::Tuple || item->items.size() != 2 || !item->items[0]->is_str()) {
      fail("TensorFlow network '" + prefix + "': a variable is " + pickle::describe(item) + ", not (name, array)");
    }
    const std::string key = prefix + item->items[0]->text;
    const Value* value = item->items[1];
    if (!is_numpy_value(value)) {
      fail("TensorFlow variable '" + key + "' is " + pickle::describe(value) + ", not a numpy array");
    }
    FloatTensor t;
    std::string skip;
    if (numpy_to_float(name_, key, value, t, skip)) {
      elements_out_ += t.data.size();
      if (elements_out_ > 2 * size_ + 65536) fail("the TensorFlow variables hold more elements than the file has bytes");
      out[key] = std::move(t);
    }
  }
  if (const Value* comps = net->state->get("components"); comps && comps->kind != Kind::None) {
    if (comps->kind != Kind::Dict) fail("TensorFlow network '" + prefix + "': 'components' is " + pickle::describe(comps));
    for (const auto& [k, c] : comps->entries) {
      if (!k->is_str()) fail("TensorFlow network '" + prefix + "': a component name is not a string");
      if (!is_tf_network(c)) fail("TensorFlow component '" + prefix + k->text + "' is " + pickle::describe(c) + ", not a network");
      collect_tf(c, prefix + k->text + "/", depth + 1, out);
    }
  }
}

// NVIDIA's TensorFlow pickles: (G, D, Gs), each a dnnlib.tflib.network.Network whose pickled state
// (version, name, static_kwargs, components, build_module_src, build_func_name, variables) is
// read as data; build_module_src (the Python source its loader executes) is never looked at.
ImportResult Importer::run_tf(Value* root) {
  format_ = "tf-pkl";
  const std::string want = options_.prefix.empty() ? "Gs" : options_.prefix;
  const char* names[] = {"G", "D", "Gs"};
  int index = -1;
  for (int i = 0; i < 3; ++i) {
    if (want == names[i]) index = i;
  }
  if (index < 0) fail("--prefix '" + want + "': a TensorFlow pickle holds the networks G, D and Gs (the moving average, used for images)");
  const Value* net = root->items[static_cast<std::size_t>(index)];
  const Value* version = net->state->get("version");
  if (!version || version->kind != Kind::Int || version->i < 4) {
    fail("TensorFlow network '" + want + "' has pickle version " + (version ? pickle::describe(version) : std::string("(none)")) +
         "; only StyleGAN2 networks (version 4 and up) convert, as in NVIDIA's legacy.py");
  }
  ImportResult result;
  result.format = format_;
  result.prefix = want;
  result.networks = {"G", "D", "Gs"};
  std::map<std::string, FloatTensor> variables;
  collect_tf(net, "", 0, variables);
  if (variables.empty()) fail("TensorFlow network '" + want + "' has no float variables");
  const Value* func = net->state->get("build_func_name");
  const bool generator = index != 1;
  if (generator && (!func || !func->is_str() || func->text != "G_main")) {
    fail("TensorFlow network '" + want + "' is built by " + (func ? pickle::describe(func) : std::string("(nothing)")) +
         ", not StyleGAN2's G_main (a StyleGAN 1 pickle?); only StyleGAN2 generators convert");
  }
  if (!generator || options_.key_map == "none") {
    result.tensors = std::move(variables);
    result.key_map = "none";
    return result;
  }
  if (options_.key_map == "rosinality") fail("key map rosinality: this is a TensorFlow pickle, not a rosinality checkpoint");
  std::size_t budget = 10000;
  const Value* kwargs = net->state->get("static_kwargs");
  const nlohmann::json static_kwargs = kwargs ? to_json(kwargs, 0, budget) : nlohmann::json::object();
  try {
    result.tensors = map_tf_stylegan2(variables, static_kwargs, &result.config, &result.notes);
  } catch (const Error& e) {
    fail(e.what());
  }
  result.key_map = "tf";
  return result;
}

// Files that hold no generator, said in one line: an optimizer state, a pickle with only a
// discriminator. (With --prefix the user chose, and gets what is there.)
void Importer::refuse_non_generators(const Value* root) const {
  if (!options_.prefix.empty() || root->kind != Kind::Dict) return;
  if (root->get("state") && root->get("param_groups")) {
    fail("this is an optimizer state (torch.optim's 'state' and 'param_groups'), not a generator; open the checkpoint "
         "that holds the generator's weights (rosinality's NNNNNN.pt with g_ema, NVIDIA's network-snapshot-*.pkl)");
  }
  const bool has_d = is_module(root->get("D")) || is_state_dict(root->get("D")) || is_state_dict(root->get("d"));
  bool has_g = false;
  for (const char* k : {"G", "G_ema", "g", "g_ema", "Gs", "generator", "state_dict", "model"}) {
    has_g = has_g || root->get(k);
  }
  if (has_d && !has_g) {
    fail("this file holds only a discriminator ('" + std::string(root->get("D") ? "D" : "d") +
         "'), not a generator; open a checkpoint with the generator (G_ema or g_ema), e.g. the network-snapshot-*.pkl "
         "NVIDIA's training writes");
  }
}

Value* Importer::load_root() {
  if (size_ >= 4 && bytes_[0] == 'P' && bytes_[1] == 'K' && ((bytes_[2] == 3 && bytes_[3] == 4) || (bytes_[2] == 5 && bytes_[3] == 6))) {
    return load_zip();
  }
  if (size_ >= 2 && bytes_[0] == 0x80) return load_plain_or_legacy();
  if (size_ > 262 && std::memcmp(bytes_ + 257, "ustar", 5) == 0) {
    fail("this is the tar-based torch.save format of PyTorch before 0.4, which is not supported; re-save it with a newer PyTorch");
  }
  fail("not a PyTorch checkpoint: neither a zip archive (torch.save since PyTorch 1.6) nor a binary pickle "
       "(legacy torch.save, NVIDIA network .pkl)");
}

// The file as data, every tensor's view checked against its storage whatever its dtype.
std::string Importer::read_data() {
  Value* root = load_root();
  std::unordered_set<const Value*> seen;
  std::vector<Value*> todo{root};
  while (!todo.empty()) {
    Value* v = todo.back();
    todo.pop_back();
    if (!v || !seen.insert(v).second) continue;
    if (v->kind == Kind::Tensor && v->tensor) {
      if (v->tensor->storage && !v->tensor->storage->data) fail("a tensor's storage '" + v->tensor->storage->key + "' has no data in the file");
      if (v->tensor->storage) check_view("a tensor", *v->tensor);
    }
    for (Value* i : v->items) todo.push_back(i);
    for (const auto& [k, e] : v->entries) todo.push_back(k), todo.push_back(e);
    todo.push_back(v->args), todo.push_back(v->state);
  }
  return pickle::describe(root);
}

ImportResult Importer::run() {
  if (options_.key_map != "auto" && options_.key_map != "none" && options_.key_map != "rosinality") {
    throw Error("unknown key map '" + options_.key_map + "' (use auto, none or rosinality)");
  }
  Value* root = load_root();

  if (root->kind == Kind::Tuple && root->items.size() == 3 &&
      std::all_of(root->items.begin(), root->items.end(), [](const Value* v) { return is_tf_network(v); })) {
    return run_tf(root);
  }
  refuse_non_generators(root);
  ImportResult result;
  result.format = format_;
  if (root->kind == Kind::Dict) {
    for (const auto& [k, v] : root->entries) {
      if (k->is_str() && (is_module(v) || is_state_dict(v))) result.networks.push_back(k->text);
    }
  }
  Value* chosen = locate(root, result.prefix);
  if (format_ == "pickle" && is_module(chosen) && chosen->args && chosen->args->get("module_src")) {
    result.format = "nvidia-pkl";
    result.source_repository = nvidia_repository(chosen);
  }
  collect(chosen, result);
  if (result.tensors.empty()) fail("no float tensors found under '" + result.prefix + "'");

  const bool rosinality = result.tensors.count("input.input") && result.tensors.count("style.1.weight");
  if (options_.key_map == "rosinality" && !rosinality) {
    fail("key map rosinality: the state dict has no 'input.input' and 'style.1.weight', so it is not a rosinality "
         "stylegan2-pytorch generator");
  }
  if (rosinality && options_.key_map != "none") {
    FloatTensor latent_avg;
    bool have_avg = false;
    if (Value* avg = root->kind == Kind::Dict ? root->get("latent_avg") : nullptr; avg && avg->kind == Kind::Tensor) {
      std::string skip;
      have_avg = convert("latent_avg", *avg->tensor, latent_avg, skip);
    }
    result.has_latent_avg = have_avg;
    result.tensors = map_rosinality_keys(result.tensors, have_avg ? &latent_avg : nullptr, &result.notes);
    result.key_map = "rosinality";
  } else {
    result.key_map = "none";
  }
  if (is_module(chosen) && chosen->text == "Generator" && is_stylegan2_state_dict(result.tensors)) {
    result.config = module_config(chosen, result.source_repository);
  } else if (is_module(chosen) && chosen->text == "Generator" && is_stylegan3_state_dict(result.tensors)) {
    result.config = stylegan3_config_from_kwargs(module_kwargs(chosen));  // StyleGAN3 (stylegan3_keys.cpp)
    if (result.format == "nvidia-pkl") result.source_repository = "stylegan3";  // whatever its source says
  }
  return result;
}

}  // namespace

ImportResult import_checkpoint_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name,
                                     const ImportOptions& options) {
  Importer importer(bytes.data(), bytes.size(), name, options);
  return importer.run();
}

std::string read_checkpoint_data(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  Importer importer(bytes.data(), bytes.size(), name, ImportOptions{});
  return importer.read_data();
}

ImportResult import_checkpoint(const std::string& path, const ImportOptions& options) {
  // The file is mapped, not read: a training checkpoint of a gigabyte holds G, D, their moving
  // average and optimizer states, and only the chosen network's bytes are ever touched.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
    ::close(fd);
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);  // says what is wrong, or reads an empty file
    return import_checkpoint_bytes(bytes, path, options);
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return import_checkpoint_bytes(read_file_bytes(path), path, options);
  struct Unmap {
    void* p;
    std::size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, size};
  Importer importer(static_cast<const std::uint8_t*>(map), size, path, options);
  return importer.run();
}

}  // namespace actmap
