#include "io/pickle.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "actmap/io/error.h"
#include "io/float_bits.h"

namespace actmap::pickle {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::F64: return "float64";
    case DType::I64: return "int64";
    case DType::I32: return "int32";
    case DType::I16: return "int16";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::Bool: return "bool";
    case DType::None: break;
  }
  return "untyped";
}

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    default: return 1;
  }
}

bool dtype_is_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F64; }

Value* Value::get(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  const auto it = index.find("s" + key);
  return it == index.end() ? nullptr : entries[it->second].second;
}

Value* Heap::make(Kind kind) {
  if (values_.size() >= max_values_) {
    throw Error("the pickle builds more than " + std::to_string(max_values_) + " objects, more than its size allows");
  }
  values_.emplace_back();
  values_.back().kind = kind;
  return &values_.back();
}
void Heap::charge(std::size_t n) {
  entries_ += n;
  if (entries_ > 2 * max_values_) {
    throw Error("the pickle builds containers with more than " + std::to_string(2 * max_values_) +
                " entries in all, more than its size allows");
  }
}

StorageRef* Heap::make_storage() { return &storages_.emplace_back(); }
TensorRef* Heap::make_tensor() { return &tensors_.emplace_back(); }
std::string* Heap::keep_bytes(std::string bytes) { return &strings_.emplace_back(std::move(bytes)); }
std::vector<std::uint8_t>* Heap::keep_buffer(std::vector<std::uint8_t> bytes) {
  return &buffers_.emplace_back(std::move(bytes));
}

// ---------------------------------------------------------------------------------------------
// The allow-list. Every entry is data: what the VM builds when the file "calls" it.

namespace {

struct StorageName {
  const char* name;
  DType dtype;
};
const StorageName kStorages[] = {
    {"FloatStorage", DType::F32}, {"HalfStorage", DType::F16},  {"BFloat16Storage", DType::BF16},
    {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16}, {"CharStorage", DType::I8},   {"ByteStorage", DType::U8},
    {"BoolStorage", DType::Bool},
};

struct DTypeName {
  const char* name;
  DType dtype;
};
const DTypeName kDTypes[] = {
    {"float32", DType::F32}, {"float", DType::F32},   {"float16", DType::F16}, {"half", DType::F16},
    {"bfloat16", DType::BF16}, {"float64", DType::F64}, {"double", DType::F64}, {"int64", DType::I64},
    {"long", DType::I64},   {"int32", DType::I32},   {"int", DType::I32},     {"int16", DType::I16},
    {"short", DType::I16},  {"int8", DType::I8},     {"uint8", DType::U8},    {"bool", DType::Bool},
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

bool lookup_global(const std::string& module, const std::string& name, Value& out) {
  const std::string full = module + "." + name;
  auto set = [&](Handler h, DType d = DType::None) {
    out.kind = Kind::Global;
    out.text = full;
    out.handler = h;
    out.dtype = d;
    return true;
  };
  const bool builtins = module == "builtins" || module == "__builtin__";
  if (full == "collections.OrderedDict" || full == "dnnlib.util.EasyDict" || (builtins && name == "dict")) {
    return set(Handler::Dict);
  }
  if (builtins) {
    if (name == "list") return set(Handler::List);
    if (name == "tuple") return set(Handler::Tuple);
    if (name == "set") return set(Handler::Set);
    if (name == "frozenset") return set(Handler::FrozenSet);
    if (name == "object") return set(Handler::Record);
    return false;
  }
  if (full == "torch.Size") return set(Handler::TorchSize);
  if (full == "torch._utils._rebuild_tensor_v2") return set(Handler::RebuildTensorV2);
  if (full == "torch._utils._rebuild_tensor") return set(Handler::RebuildTensor);
  if (full == "torch._utils._rebuild_parameter" || full == "torch._utils._rebuild_parameter_with_state") {
    return set(Handler::RebuildParameter);
  }
  if (full == "torch._tensor._rebuild_from_type_v2") return set(Handler::RebuildFromType);
  if (full == "torch.storage._load_from_bytes") return set(Handler::LoadFromBytes);
  if (full == "torch_utils.persistence._reconstruct_persistent_obj") return set(Handler::PersistentObject);
  if (full == "copyreg._reconstructor" || full == "copy_reg._reconstructor") return set(Handler::Reconstructor);
  if (full == "_codecs.encode") return set(Handler::CodecsEncode);
  if (module == "torch" || module == "torch.cuda") {
    for (const auto& s : kStorages) {
      if (name == s.name) return set(Handler::StorageType, s.dtype);
    }
  }
  if (full == "torch.storage._TypedStorage" || full == "torch.storage.TypedStorage" ||
      full == "torch.storage.UntypedStorage" || full == "torch.UntypedStorage") {
    return set(Handler::StorageType, DType::U8);
  }
  if (module == "torch") {
    for (const auto& d : kDTypes) {
      if (name == d.name) return set(Handler::Record, d.dtype);
    }
    if (name == "Tensor" || name == "device") return set(Handler::Record);
  }
  if (full == "torch.nn.parameter.Parameter") return set(Handler::Record);
  if (starts_with(module, "torch.nn.modules.")) return set(Handler::Record);
  if (full == "argparse.Namespace") return set(Handler::Record);
  if (module == "numpy" && (name == "dtype" || name == "ndarray")) return set(Handler::Record);
  if ((module == "numpy.core.multiarray" || module == "numpy._core.multiarray") &&
      (name == "_reconstruct" || name == "scalar")) {
    return set(Handler::Record);
  }
  if ((module == "numpy.core.numeric" || module == "numpy._core.numeric") && name == "_frombuffer") {
    return set(Handler::Record);  // protocol 5 arrays: _frombuffer(bytes, dtype, shape, order)
  }
  // NVIDIA's TensorFlow networks: a record whose pickled state (version, static_kwargs,
  // components, variables, build_module_src) is read as data; the source is never run.
  if (full == "dnnlib.tflib.network.Network") return set(Handler::Record);
  return false;
}

std::string describe(const Value* v) {
  if (!v) return "nothing";
  switch (v->kind) {
    case Kind::None: return "None";
    case Kind::Bool: return v->b ? "True" : "False";
    case Kind::Int: return "int " + std::to_string(v->i);
    case Kind::BigInt: return "a large int";
    case Kind::Float: return "float " + std::to_string(v->f);
    case Kind::Str: return "string '" + v->text.substr(0, 60) + "'";
    case Kind::Bytes: return "bytes (" + std::to_string(v->size) + ")";
    case Kind::Tuple: return "tuple of " + std::to_string(v->items.size());
    case Kind::List: return "list of " + std::to_string(v->items.size());
    case Kind::Set: return "set of " + std::to_string(v->items.size());
    case Kind::Dict: {
      std::string s = "dict with keys [";
      std::size_t n = 0;
      for (const auto& [k, val] : v->entries) {
        if (n) s += ", ";
        if (++n > 12) {
          s += "... (" + std::to_string(v->entries.size()) + " in all)";
          break;
        }
        // Keys are described without recursing: a key may itself be a deeply nested container.
        s += k->kind == Kind::Str ? k->text : k->kind == Kind::Int ? std::to_string(k->i) : "(a non-string key)";
      }
      return s + "]";
    }
    case Kind::Global: return "global " + v->text;
    case Kind::Object: return "object " + v->text;
    case Kind::Storage: return std::string("storage of ") + dtype_name(v->storage->dtype);
    case Kind::Tensor: return "tensor";
  }
  return "value";
}

// ---------------------------------------------------------------------------------------------
// The VM.

namespace {

// Key identity for dict entries: strings, ints, bools and None compare by value; anything else is
// kept as a distinct key.
std::string key_signature(const Value* k) {
  switch (k->kind) {
    case Kind::Str: return "s" + k->text;
    case Kind::Int: return "i" + std::to_string(k->i);
    case Kind::Bool: return k->b ? "i1" : "i0";
    case Kind::None: return "n";
    default: return {};
  }
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | ((cp >> 18) & 0x07)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

class Machine {
 public:
  Machine(Heap& heap, const std::uint8_t* data, std::size_t size, std::size_t offset, const std::string& name,
          const UnpicklerHooks& hooks)
      : heap_(heap), d_(data), n_(size), pos_(offset), name_(name), hooks_(hooks) {}

  Value* run();
  std::size_t pos() const { return pos_; }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(name_ + ": pickle: " + what + " (opcode at byte " + std::to_string(op_at_) + ")");
  }
  const std::uint8_t* take(std::uint64_t count) {
    if (count > n_ - pos_) {
      fail("truncated: needs " + std::to_string(count) + " more bytes, " + std::to_string(n_ - pos_) + " left");
    }
    const std::uint8_t* p = d_ + pos_;
    pos_ += count;
    return p;
  }
  std::uint8_t u8() { return *take(1); }
  std::uint16_t u16() { return load_u16(take(2)); }
  std::uint32_t u32() { return load_u32(take(4)); }
  std::uint64_t u64() { return load_u64(take(8)); }
  std::string line() {
    const void* nl = std::memchr(d_ + pos_, '\n', n_ - pos_);
    if (!nl) fail("truncated: a text argument has no end of line");
    const std::size_t len = static_cast<const std::uint8_t*>(nl) - (d_ + pos_);
    std::string s(reinterpret_cast<const char*>(d_ + pos_), len);
    pos_ += len + 1;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  }

  void push(Value* v) {
    if (stack_.size() >= kMaxStack) fail("the stack grows past " + std::to_string(kMaxStack) + " values");
    stack_.push_back(v);
  }
  std::size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  Value* pop() {
    if (stack_.size() <= fence()) fail("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= fence()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  Value* make(Kind k) {
    try {
      return heap_.make(k);
    } catch (const Error& e) {
      fail(e.what());
    }
  }
  Value* make_int(std::int64_t i) {
    Value* v = make(Kind::Int);
    v->i = i;
    return v;
  }
  Value* make_str(std::string s) {
    Value* v = make(Kind::Str);
    v->text = std::move(s);
    return v;
  }
  Value* make_bytes(const std::uint8_t* p, std::size_t len) {
    Value* v = make(Kind::Bytes);
    v->data = p;
    v->size = len;
    return v;
  }
  void charge(std::size_t n) {
    try {
      heap_.charge(n);
    } catch (const Error& e) {
      fail(e.what());
    }
  }
  Value* make_seq(Kind k, std::vector<Value*> items) {
    charge(items.size());
    Value* v = make(k);
    v->items = std::move(items);
    return v;
  }
  Value* make_long(const std::uint8_t* p, std::size_t len) {
    if (len <= 8) {
      std::uint64_t u = 0;
      for (std::size_t k = 0; k < len; ++k) u |= std::uint64_t(p[k]) << (8 * k);
      if (len > 0 && len < 8 && (p[len - 1] & 0x80)) u |= ~std::uint64_t(0) << (8 * len);  // sign-extend
      std::int64_t i;
      std::memcpy(&i, &u, 8);
      return make_int(i);
    }
    Value* v = make(Kind::BigInt);
    v->text.assign(reinterpret_cast<const char*>(p), len);
    return v;
  }
  Value* make_text_int(const std::string& s) {
    std::string t = s;
    if (!t.empty() && t.back() == 'L') t.pop_back();
    errno = 0;
    char* end = nullptr;
    const long long i = std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || *end != '\0') fail("bad integer literal '" + s.substr(0, 40) + "'");
    if (errno == ERANGE) {
      Value* v = make(Kind::BigInt);
      v->text = t;
      return v;
    }
    return make_int(i);
  }

  std::string quoted_string(const std::string& s);
  std::string raw_unicode_escape(const std::string& s);

  void set_item(Value* dict, Value* k, Value* v) {
    if (dict->kind != Kind::Dict) fail("SETITEM(S) on " + describe(dict) + ", not a dict");
    charge(1);
    const std::string sig = key_signature(k);
    if (!sig.empty()) {
      const auto it = dict->index.find(sig);
      if (it != dict->index.end()) {
        dict->entries[it->second].second = v;
        return;
      }
      dict->index.emplace(sig, dict->entries.size());
    }
    dict->entries.emplace_back(k, v);
  }

  Value* global(const std::string& module, const std::string& name) {
    Value probe;
    if (!lookup_global(module, name, probe) ||
        (probe.handler == Handler::LoadFromBytes && !hooks_.load_from_bytes)) {
      throw Error(name_ + ": refused to load: the checkpoint names the global '" + module + "." + name +
                  "', which is not on the allow-list of tensor/container types; actmap never runs code from a "
                  "model file");
    }
    Value* v = make(Kind::Global);
    v->text = probe.text;
    v->handler = probe.handler;
    v->dtype = probe.dtype;
    return v;
  }

  std::int64_t int_arg(const Value* v, const char* what) {
    if (v->kind == Kind::Int) return v->i;
    if (v->kind == Kind::Bool) return v->b;
    fail(std::string(what) + " must be an int, not " + describe(v));
  }
  std::vector<std::int64_t> int_tuple(const Value* v, const char* what) {
    if (v->kind != Kind::Tuple && v->kind != Kind::List) fail(std::string(what) + " must be a tuple, not " + describe(v));
    charge(v->items.size());
    std::vector<std::int64_t> out;
    for (const Value* x : v->items) out.push_back(int_arg(x, what));
    return out;
  }

  Value* call(Value* callable, Value* args);
  Value* instantiate(Value* cls, Value* args);
  void build(Value* obj, Value* state);
  Value* make_container(Handler h, const std::vector<Value*>& args);

  Heap& heap_;
  const std::uint8_t* d_;
  std::size_t n_, pos_, op_at_ = 0;
  const std::string& name_;
  const UnpicklerHooks& hooks_;
  std::vector<Value*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value*> memo_;
};

std::string Machine::quoted_string(const std::string& s) {
  if (s.size() < 2 || (s.front() != '\'' && s.front() != '"') || s.back() != s.front()) {
    fail("STRING argument is not quoted");
  }
  std::string out;
  for (std::size_t k = 1; k + 1 < s.size(); ++k) {
    char c = s[k];
    if (c != '\\' || k + 2 >= s.size()) {
      out.push_back(c);
      continue;
    }
    c = s[++k];
    switch (c) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case 'x':
        if (k + 2 < s.size() - 1) {
          out.push_back(static_cast<char>(std::strtol(s.substr(k + 1, 2).c_str(), nullptr, 16)));
          k += 2;
        }
        break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string Machine::raw_unicode_escape(const std::string& s) {
  std::string out;
  for (std::size_t k = 0; k < s.size(); ++k) {
    const unsigned char c = static_cast<unsigned char>(s[k]);
    if (c == '\\' && k + 1 < s.size() && (s[k + 1] == 'u' || s[k + 1] == 'U')) {
      const std::size_t digits = s[k + 1] == 'u' ? 4 : 8;
      if (k + 2 + digits > s.size()) fail("truncated \\u escape in UNICODE");
      const std::uint32_t cp = static_cast<std::uint32_t>(std::strtoul(s.substr(k + 2, digits).c_str(), nullptr, 16));
      append_utf8(out, cp > 0x10ffff ? 0xfffd : cp);
      k += 1 + digits;
    } else {
      append_utf8(out, c);  // raw-unicode-escape: other bytes are Latin-1
    }
  }
  return out;
}

Value* Machine::make_container(Handler h, const std::vector<Value*>& args) {
  const Kind k = h == Handler::Dict ? Kind::Dict : h == Handler::List ? Kind::List : h == Handler::Tuple ? Kind::Tuple : Kind::Set;
  Value* v = make(k);
  if (args.empty()) return v;
  const Value* src = args[0];
  if (k == Kind::Dict) {
    if (src->kind == Kind::Dict) {
      for (const auto& [key, val] : src->entries) set_item(v, key, val);
    } else if (src->kind == Kind::List || src->kind == Kind::Tuple) {
      for (Value* pair : src->items) {
        if ((pair->kind != Kind::Tuple && pair->kind != Kind::List) || pair->items.size() != 2) {
          fail("a dict is built from " + describe(pair) + ", not a (key, value) pair");
        }
        set_item(v, pair->items[0], pair->items[1]);
      }
    } else {
      fail("a dict is built from " + describe(src));
    }
  } else {
    if (src->kind != Kind::List && src->kind != Kind::Tuple && src->kind != Kind::Set) {
      fail("a " + std::string(k == Kind::List ? "list" : k == Kind::Tuple ? "tuple" : "set") + " is built from " + describe(src));
    }
    charge(src->items.size());
    v->items = src->items;
  }
  return v;
}

Value* Machine::call(Value* callable, Value* args) {
  if (callable->kind != Kind::Global) fail("REDUCE calls " + describe(callable) + ", which is not an allowed global");
  if (args->kind != Kind::Tuple) fail("REDUCE arguments of " + callable->text + " are " + describe(args) + ", not a tuple");
  const std::vector<Value*>& a = args->items;
  auto need = [&](std::size_t lo, std::size_t hi) {
    if (a.size() < lo || a.size() > hi) {
      fail(callable->text + " takes " + std::to_string(lo) + (hi > lo ? "-" + std::to_string(hi) : "") +
           " arguments, the file gives " + std::to_string(a.size()));
    }
  };
  switch (callable->handler) {
    case Handler::Dict: case Handler::List: case Handler::Tuple: case Handler::Set: case Handler::FrozenSet:
      need(0, 1);
      return make_container(callable->handler == Handler::FrozenSet ? Handler::Set : callable->handler, a);
    case Handler::TorchSize: {
      need(0, 1);
      Value* v = make_container(Handler::Tuple, a);
      for (const Value* x : v->items) int_arg(x, "torch.Size entries");
      return v;
    }
    case Handler::RebuildTensorV2: case Handler::RebuildTensor: {
      need(4, callable->handler == Handler::RebuildTensor ? 4 : 7);
      if (a[0]->kind != Kind::Storage) fail(callable->text + " needs a storage, not " + describe(a[0]));
      TensorRef* t = heap_.make_tensor();
      t->storage = a[0]->storage;
      t->offset = int_arg(a[1], "storage offset");
      t->size = int_tuple(a[2], "tensor size");
      t->stride = int_tuple(a[3], "tensor stride");
      if (t->size.size() != t->stride.size()) {
        fail("tensor size has " + std::to_string(t->size.size()) + " dimensions but its stride " + std::to_string(t->stride.size()));
      }
      Value* v = make(Kind::Tensor);
      v->tensor = t;
      return v;
    }
    case Handler::RebuildParameter:
      need(3, 4);
      if (a[0]->kind != Kind::Tensor) fail(callable->text + " needs a tensor, not " + describe(a[0]));
      return a[0];
    case Handler::RebuildFromType:
      need(4, 4);
      if (a[0]->kind != Kind::Global || a[2]->kind != Kind::Tuple) fail(callable->text + " has malformed arguments");
      if (a[0]->handler != Handler::RebuildTensorV2 && a[0]->handler != Handler::RebuildTensor &&
          a[0]->handler != Handler::RebuildParameter) {
        fail(callable->text + " rebuilds with " + a[0]->text + ", not a tensor rebuild function");
      }
      return call(a[0], a[2]);
    case Handler::LoadFromBytes: {
      need(1, 1);
      if (a[0]->kind != Kind::Bytes) fail(callable->text + " needs bytes, not " + describe(a[0]));
      Value* v = hooks_.load_from_bytes(a[0]->data, a[0]->size);
      if (!v || v->kind != Kind::Storage) fail(callable->text + " holds " + describe(v) + ", not a storage");
      return v;
    }
    case Handler::PersistentObject: {
      need(1, 1);
      if (a[0]->kind != Kind::Dict) fail(callable->text + " needs a dict of metadata, not " + describe(a[0]));
      Value* v = make(Kind::Object);
      const Value* cls = a[0]->get("class_name");
      v->text = cls && cls->kind == Kind::Str ? cls->text : "?";
      v->args = a[0];
      v->state = a[0]->get("state");
      return v;
    }
    case Handler::Reconstructor: {
      need(3, 3);
      if (a[0]->kind != Kind::Global) fail(callable->text + " needs a class, not " + describe(a[0]));
      Value* v = instantiate(a[0], make(Kind::Tuple));
      if (v->kind == Kind::Object && a[2]->kind != Kind::None) v->args = a[2];
      return v;
    }
    case Handler::CodecsEncode: {
      need(2, 2);
      if (a[0]->kind != Kind::Str || a[1]->kind != Kind::Str || (a[1]->text != "latin1" && a[1]->text != "latin-1")) {
        fail("_codecs.encode is only allowed as encode(str, 'latin1')");
      }
      // The str is UTF-8 here; every code point must be below 256.
      std::string bytes;
      const std::string& s = a[0]->text;
      for (std::size_t k = 0; k < s.size(); ++k) {
        const unsigned char c = static_cast<unsigned char>(s[k]);
        if (c < 0x80) {
          bytes.push_back(static_cast<char>(c));
        } else if ((c & 0xe0) == 0xc0 && k + 1 < s.size()) {
          const unsigned cp = ((c & 0x1fu) << 6) | (static_cast<unsigned char>(s[++k]) & 0x3fu);
          if (cp > 0xff) fail("_codecs.encode: a character above U+00FF in 'latin1' bytes");
          bytes.push_back(static_cast<char>(cp));
        } else {
          fail("_codecs.encode: a character above U+00FF in 'latin1' bytes");
        }
      }
      const std::string* kept = heap_.keep_bytes(std::move(bytes));
      return make_bytes(reinterpret_cast<const std::uint8_t*>(kept->data()), kept->size());
    }
    case Handler::StorageType:
      fail("the file calls the storage type " + callable->text + " directly");
    case Handler::Record: {
      Value* v = make(Kind::Object);
      v->text = callable->text;
      v->args = args;
      return v;
    }
  }
  fail("unreachable");
}

Value* Machine::instantiate(Value* cls, Value* args) {
  if (cls->kind != Kind::Global) fail("NEWOBJ on " + describe(cls) + ", which is not an allowed class");
  switch (cls->handler) {
    case Handler::Dict: case Handler::List: case Handler::Tuple: case Handler::Set: case Handler::FrozenSet:
      // A subclass of a container (EasyDict, OrderedDict) gets its items from SETITEMS afterwards.
      return make_container(cls->handler == Handler::FrozenSet ? Handler::Set : cls->handler,
                            cls->handler == Handler::Dict ? std::vector<Value*>{} : args->items);
    case Handler::Record: case Handler::TorchSize:
      return call(cls, args);
    default:
      fail("NEWOBJ on " + cls->text + ", which is not a class");
  }
}

void Machine::build(Value* obj, Value* state) {
  switch (obj->kind) {
    case Kind::Object:
      // (dict, slots) pairs keep the dict.
      if (state->kind == Kind::Tuple && state->items.size() == 2 && state->items[0]->kind == Kind::Dict) {
        state = state->items[0];
      }
      obj->state = state;
      return;
    case Kind::Dict:    // attributes of a dict subclass (an OrderedDict's _metadata): not needed
    case Kind::Tensor:  // Python attributes of a tensor subclass
      return;
    default:
      fail("BUILD on " + describe(obj));
  }
}

Value* Machine::run() {
  while (true) {
    op_at_ = pos_;
    const std::uint8_t op = u8();
    switch (op) {
      case 0x80: {  // PROTO
        const int proto = u8();
        if (proto > 5) fail("pickle protocol " + std::to_string(proto) + " is newer than 5");
        break;
      }
      case 0x95: {  // FRAME: a length hint
        const std::uint64_t len = u64();
        if (len > n_ - pos_) fail("FRAME of " + std::to_string(len) + " bytes runs past the end");
        break;
      }
      case '.': {  // STOP
        Value* v = pop();
        return v;
      }
      case '(':
        if (marks_.size() >= kMaxMarkDepth) {
          fail("containers nested deeper than " + std::to_string(kMaxMarkDepth) + " levels (a nesting bomb)");
        }
        marks_.push_back(stack_.size());
        break;
      case '0': pop(); break;
      case '1': pop_mark(); break;
      case '2': push(top()); break;
      // Numbers.
      case 'N': push(make(Kind::None)); break;
      case 0x88: case 0x89: {
        Value* v = make(Kind::Bool);
        v->b = op == 0x88;
        push(v);
        break;
      }
      case 'J': {
        const std::uint32_t u = u32();
        std::int32_t i;
        std::memcpy(&i, &u, 4);
        push(make_int(i));
        break;
      }
      case 'K': push(make_int(u8())); break;
      case 'M': push(make_int(u16())); break;
      case 0x8a: {  // LONG1
        const std::size_t len = u8();
        push(make_long(take(len), len));
        break;
      }
      case 0x8b: {  // LONG4
        const std::uint32_t len = u32();
        if (len > 0x7fffffffu) fail("negative LONG4 length");
        push(make_long(take(len), len));
        break;
      }
      case 'I': {
        const std::string s = line();
        if (s == "00" || s == "01") {
          Value* v = make(Kind::Bool);
          v->b = s == "01";
          push(v);
        } else {
          push(make_text_int(s));
        }
        break;
      }
      case 'L': push(make_text_int(line())); break;
      case 'F': {
        const std::string s = line();
        char* end = nullptr;
        Value* v = make(Kind::Float);
        v->f = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0') fail("bad float literal '" + s.substr(0, 40) + "'");
        push(v);
        break;
      }
      case 'G': {
        const std::uint8_t* p = take(8);
        std::uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];  // big-endian
        Value* v = make(Kind::Float);
        std::memcpy(&v->f, &u, 8);
        push(v);
        break;
      }
      // Strings and bytes.
      case 'S': push(make_str(quoted_string(line()))); break;
      case 'V': push(make_str(raw_unicode_escape(line()))); break;
      case 'T': case 'X': case 'U': case 0x8c: case 0x8d: {
        const std::uint64_t len = op == 'U' || op == 0x8c ? u8() : op == 0x8d ? u64() : u32();
        if (op == 'T' && len > 0x7fffffffu) fail("negative BINSTRING length");
        const std::uint8_t* p = take(len);
        push(make_str(std::string(reinterpret_cast<const char*>(p), len)));
        break;
      }
      case 'B': case 'C': case 0x8e: case 0x96: {
        const std::uint64_t len = op == 'C' ? u8() : op == 'B' ? u32() : u64();
        push(make_bytes(take(len), len));
        break;
      }
      // Containers.
      case ')': push(make(Kind::Tuple)); break;
      case 't': push(make_seq(Kind::Tuple, pop_mark())); break;
      case 0x85: case 0x86: case 0x87: {
        const std::size_t count = op - 0x84;
        std::vector<Value*> items(count);
        for (std::size_t k = count; k-- > 0;) items[k] = pop();
        push(make_seq(Kind::Tuple, std::move(items)));
        break;
      }
      case ']': push(make(Kind::List)); break;
      case 'l': push(make_seq(Kind::List, pop_mark())); break;
      case 'a': {
        Value* v = pop();
        Value* list = top();
        if (list->kind != Kind::List) fail("APPEND to " + describe(list) + ", not a list");
        charge(1);
        list->items.push_back(v);
        break;
      }
      case 'e': {
        std::vector<Value*> items = pop_mark();
        Value* list = top();
        if (list->kind != Kind::List) fail("APPENDS to " + describe(list) + ", not a list");
        charge(items.size());
        list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case '}': push(make(Kind::Dict)); break;
      case 'd': {
        std::vector<Value*> items = pop_mark();
        if (items.size() % 2) fail("DICT with an odd number of items");
        Value* dict = make(Kind::Dict);
        for (std::size_t k = 0; k < items.size(); k += 2) set_item(dict, items[k], items[k + 1]);
        push(dict);
        break;
      }
      case 's': {
        Value* v = pop();
        Value* k = pop();
        set_item(top(), k, v);
        break;
      }
      case 'u': {
        std::vector<Value*> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        Value* dict = top();
        for (std::size_t k = 0; k < items.size(); k += 2) set_item(dict, items[k], items[k + 1]);
        break;
      }
      case 0x8f: push(make(Kind::Set)); break;
      case 0x90: {
        std::vector<Value*> items = pop_mark();
        Value* set = top();
        if (set->kind != Kind::Set) fail("ADDITEMS to " + describe(set) + ", not a set");
        charge(items.size());
        set->items.insert(set->items.end(), items.begin(), items.end());
        break;
      }
      case 0x91: push(make_seq(Kind::Set, pop_mark())); break;
      // Memo.
      case 'p': case 'q': case 'r': case 0x94: {
        std::uint64_t idx;
        if (op == 'p') {
          const std::string s = line();
          char* end = nullptr;
          idx = std::strtoull(s.c_str(), &end, 10);
          if (s.empty() || *end != '\0') fail("bad PUT index");
        } else {
          idx = op == 'q' ? u8() : op == 'r' ? u32() : memo_.size();
        }
        memo_[idx] = top();
        break;
      }
      case 'g': case 'h': case 'j': {
        std::uint64_t idx;
        if (op == 'g') {
          const std::string s = line();
          char* end = nullptr;
          idx = std::strtoull(s.c_str(), &end, 10);
          if (s.empty() || *end != '\0') fail("bad GET index");
        } else {
          idx = op == 'h' ? u8() : u32();
        }
        const auto it = memo_.find(idx);
        if (it == memo_.end()) fail("memo entry " + std::to_string(idx) + " is used before it is defined");
        push(it->second);
        break;
      }
      // Globals and objects: data only.
      case 'c': {
        const std::string module = line();
        const std::string name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {
        Value* name = pop();
        Value* module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
        push(global(module->text, name->text));
        break;
      }
      case 'R': {
        Value* args = pop();
        Value* callable = pop();
        push(call(callable, args));
        break;
      }
      case 0x81: {
        Value* args = pop();
        Value* cls = pop();
        if (args->kind != Kind::Tuple) fail("NEWOBJ arguments are " + describe(args) + ", not a tuple");
        push(instantiate(cls, args));
        break;
      }
      case 0x92: {
        pop();  // kwargs
        Value* args = pop();
        Value* cls = pop();
        if (args->kind != Kind::Tuple) fail("NEWOBJ_EX arguments are " + describe(args) + ", not a tuple");
        push(instantiate(cls, args));
        break;
      }
      case 'i': {
        const std::string module = line();
        const std::string name = line();
        Value* cls = global(module, name);
        push(instantiate(cls, make_seq(Kind::Tuple, pop_mark())));
        break;
      }
      case 'o': {
        std::vector<Value*> items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        Value* cls = items[0];
        items.erase(items.begin());
        push(instantiate(cls, make_seq(Kind::Tuple, std::move(items))));
        break;
      }
      case 'b': {
        Value* state = pop();
        build(top(), state);
        break;
      }
      case 'Q': {
        Value* pid = pop();
        if (!hooks_.persistent_load) fail("persistent ids are not expected here");
        push(hooks_.persistent_load(pid));
        break;
      }
      case 'P': {
        Value* pid = make_str(line());
        if (!hooks_.persistent_load) fail("persistent ids are not expected here");
        push(hooks_.persistent_load(pid));
        break;
      }
      case 0x98: break;  // READONLY_BUFFER: no-op on data
      case 0x82: case 0x83: case 0x84: fail("extension-registry opcodes (EXT1/2/4) are not supported");
      case 0x97: fail("out-of-band buffers (NEXT_BUFFER) are not supported");
      default: {
        static const char hex[] = "0123456789abcdef";
        fail(std::string("unknown opcode 0x") + hex[op >> 4] + hex[op & 15]);
      }
    }
  }
}

}  // namespace

Value* unpickle(Heap& heap, const std::uint8_t* data, std::size_t size, std::size_t& offset, const std::string& name,
                const UnpicklerHooks& hooks) {
  Machine m(heap, data, size, offset, name, hooks);
  Value* v = m.run();
  offset = m.pos();
  return v;
}

}  // namespace actmap::pickle
