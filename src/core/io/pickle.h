// A restricted unpickler: a pickle VM (protocols 0-5) that builds inert data only. Globals are
// looked up in an allow-list of tensor, storage and container types and become data handlers;
// nothing named by a file is ever imported or called. Used by checkpoint_import.cpp.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actmap::pickle {

enum class Kind : std::uint8_t {
  None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Set,
  Global,   // an allowed global: a type or function, kept as data
  Object,   // an inert record of a class instance: class name, constructor args, state
  Storage,  // a tensor storage (a persistent id resolved by the format)
  Tensor,
};

enum class DType : std::uint8_t { None, F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };
const char* dtype_name(DType d);
std::size_t dtype_size(DType d);
bool dtype_is_float(DType d);

// What an allowed global does when called (REDUCE, NEWOBJ, INST, OBJ).
enum class Handler : std::uint8_t {
  Dict,              // collections.OrderedDict, dnnlib.util.EasyDict, builtins.dict
  List, Tuple, Set, FrozenSet,
  TorchSize,         // torch.Size(tuple) -> tuple
  RebuildTensorV2,   // torch._utils._rebuild_tensor_v2
  RebuildTensor,     // torch._utils._rebuild_tensor
  RebuildParameter,  // torch._utils._rebuild_parameter(_with_state)
  RebuildFromType,   // torch._tensor._rebuild_from_type_v2
  LoadFromBytes,     // torch.storage._load_from_bytes (an embedded legacy torch.save file)
  PersistentObject,  // torch_utils.persistence._reconstruct_persistent_obj (NVIDIA)
  Reconstructor,     // copyreg._reconstructor(cls, base, state)
  CodecsEncode,      // _codecs.encode(str, 'latin1') -> bytes (protocol 2 bytes)
  StorageType,       // torch.FloatStorage etc.
  Record,            // inert classes: numpy reconstruction, torch.nn.modules.*, argparse.Namespace, dtypes
};

struct Value;

struct StorageRef {
  DType dtype = DType::None;
  std::string key;             // archive record or legacy storage key
  std::uint64_t numel = 0;     // elements, as the file claims
  const std::uint8_t* data = nullptr;  // resolved bytes (numel * dtype_size), or null until resolved
  // Legacy views into another storage.
  StorageRef* root = nullptr;
  std::uint64_t view_offset = 0;  // elements
};

struct TensorRef {
  StorageRef* storage = nullptr;
  std::int64_t offset = 0;
  std::vector<std::int64_t> size, stride;
};

struct Value {
  Kind kind = Kind::None;
  bool b = false;
  std::int64_t i = 0;
  double f = 0;
  std::string text;                       // Str; BigInt (little-endian two's complement); Global/Object name
  const std::uint8_t* data = nullptr;     // Bytes
  std::size_t size = 0;
  std::vector<Value*> items;              // Tuple, List, Set
  std::vector<std::pair<Value*, Value*>> entries;  // Dict
  std::unordered_map<std::string, std::size_t> index;  // Dict: key signature -> entry
  Handler handler = Handler::Record;      // Global
  DType dtype = DType::None;              // Global of a storage type
  Value* args = nullptr;                  // Object
  Value* state = nullptr;                 // Object (BUILD or persistent meta's state)
  StorageRef* storage = nullptr;          // Storage
  TensorRef* tensor = nullptr;            // Tensor

  // Dict lookup by string key; null when absent or not a dict.
  Value* get(const std::string& key) const;
  bool is_str() const { return kind == Kind::Str; }
};

// Owns every value of one import; values point at each other freely (cycles included).
class Heap {
 public:
  explicit Heap(std::size_t max_values) : max_values_(max_values) {}
  Value* make(Kind kind);
  // Counts `n` container entries against a budget of twice the object limit, so copies of one
  // large container (list(x) called again and again) cannot exhaust memory.
  void charge(std::size_t n);
  std::size_t size() const { return values_.size(); }
  StorageRef* make_storage();
  TensorRef* make_tensor();
  std::string* keep_bytes(std::string bytes);          // owned bytes (decoded protocol-2 bytes)
  std::vector<std::uint8_t>* keep_buffer(std::vector<std::uint8_t> bytes);  // inflated archive entries
  const std::deque<StorageRef>& storages() const { return storages_; }

 private:
  std::size_t max_values_;
  std::size_t entries_ = 0;
  std::deque<Value> values_;
  std::deque<StorageRef> storages_;
  std::deque<TensorRef> tensors_;
  std::deque<std::string> strings_;
  std::deque<std::vector<std::uint8_t>> buffers_;
};

// Limits against hostile input.
constexpr std::size_t kMaxMarkDepth = 1000;     // nested MARKs (containers built from marks)
constexpr std::size_t kMaxStack = 1u << 17;     // values on the VM stack (pickle batches 1000 items per APPENDS)

struct UnpicklerHooks {
  // Turns a persistent id (BINPERSID) into a value; null: persistent ids are refused.
  std::function<Value*(Value* pid)> persistent_load;
  // Parses the bytes of torch.storage._load_from_bytes; null: that global is refused.
  std::function<Value*(const std::uint8_t* data, std::size_t size)> load_from_bytes;
};

// Runs one pickle starting at `offset` up to its STOP; returns the result and sets `offset` past
// the STOP. `name` labels errors ("FILE" or "FILE, entry data.pkl").
Value* unpickle(Heap& heap, const std::uint8_t* data, std::size_t size, std::size_t& offset,
                const std::string& name, const UnpicklerHooks& hooks);

// Dotted name of a global as written in the file ("torch._utils._rebuild_tensor_v2").
// Returns false (leaving `out` unchanged) for names not on the allow-list.
bool lookup_global(const std::string& module, const std::string& name, Value& out);

// Short description of a value for error messages ("dict with keys [a, b, ...]", "int 3").
std::string describe(const Value* v);

}  // namespace actmap::pickle
