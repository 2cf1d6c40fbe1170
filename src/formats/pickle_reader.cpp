// The pickle machine (Python's Lib/pickle.py, protocols 0-5) reduced to what a state dict
// needs. Values live in an arena owned by the reader, so hostile inputs (cycles through the
// memo, deep nesting) cost memory linear in their size and nothing is walked recursively.
#include "formats/pickle_reader.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"

namespace smol::formats_detail {
namespace {

enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };
// The only callables a torch state dict names.
enum class Callable { OrderedDict, RebuildTensor, RebuildParameter, RebuildParameterWithState, StorageType };

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "value";
}

struct Value {
  Kind kind = Kind::None;
  int64_t number = 0;  // Bool, Int; the index of a Storage or Tensor
  double real = 0;     // Float
  std::string text;    // String; a Global's "module.name"
  Callable callable = Callable::OrderedDict;
  DType dtype = DType::F32;   // a storage-type Global
  std::vector<Value*> items;  // Tuple, List; a Dict's keys and values, interleaved
  // Dict: where a string key sits in items; the views point into the key Values' text, which
  // never changes once made, so a key repeated through the memo costs no copy.
  std::unordered_map<std::string_view, size_t> string_keys;
};

struct StorageType {
  std::string_view name;
  std::optional<DType> dtype;  // nullopt: a real torch storage type smol has no dtype for
};
constexpr std::array<StorageType, 19> kStorageTypes{{
    {"FloatStorage", DType::F32},  {"HalfStorage", DType::F16},   {"BFloat16Storage", DType::BF16},
    {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64},   {"IntStorage", DType::I32},
    {"CharStorage", DType::I8},    {"ByteStorage", DType::U8},    {"BoolStorage", DType::BOOL},
    {"ShortStorage", {}},          {"ComplexFloatStorage", {}},  {"ComplexDoubleStorage", {}},
    {"QInt8Storage", {}},          {"QUInt8Storage", {}},        {"QInt32Storage", {}},
    {"QUInt4x2Storage", {}},       {"QUInt2x4Storage", {}},      {"UntypedStorage", {}},
    {"ComplexHalfStorage", {}},
}};

// Names for the error messages of every opcode pickle defines (protocols 0-5).
const char* opcode_name(uint8_t op) {
  static const std::map<uint8_t, const char*> names = {
      {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
      {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"},
      {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"},
      {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"},
      {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"},
      {'i', "INST"}, {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
      {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
      {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"},
      {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"},
      {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"},
      {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
      {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
      {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
      {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"}};
  const auto it = names.find(op);
  return it == names.end() ? nullptr : it->second;
}

constexpr size_t kMaxRank = 64;

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> in, const std::string& where) : in_(in), where_(where) {}

  PickledStateDict run() {
    while (!step()) {
    }
    const Value* root = pop();
    if (root->kind != Kind::Dict) fail(fmt::format("the pickle holds a {}, not a state dict", kind_name(root->kind)));
    for (size_t i = 0; i + 1 < root->items.size(); i += 2) {
      const Value* key = root->items[i];
      const Value* value = root->items[i + 1];
      if (key->kind != Kind::String) fail(fmt::format("state dict key is a {}, not a string", kind_name(key->kind)));
      if (value->kind != Kind::Tensor) {
        fail(fmt::format("state dict entry '{}' is a {}, not a tensor", printable(key->text), kind_name(value->kind)));
      }
      PickledTensor tensor = tensors_[static_cast<size_t>(value->number)];
      tensor.name = key->text;
      out_.tensors.push_back(std::move(tensor));
    }
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw Error(fmt::format("{}: pickle byte {}: {}", where_, op_pos_, what));
  }
  // What the file asked for, named first: the line a user sees for a hostile or exotic pickle.
  [[noreturn]] void refuse(std::string_view what) const {
    throw Error(fmt::format("{}: {} (only tensor storage is loaded)", where_, what));
  }

  std::string_view take(uint64_t n) {
    if (n > in_.size() - pos_) fail(fmt::format("ends inside an opcode's argument (truncated)"));
    std::string_view s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  uint64_t le(int n) {
    const std::string_view s = take(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[i]);
    return v;
  }
  std::string_view line() {
    if (pos_ == in_.size()) fail("GLOBAL name has no terminating newline (truncated)");
    const auto* begin = reinterpret_cast<const char*>(in_.data() + pos_);
    const void* nl = std::memchr(begin, '\n', in_.size() - pos_);
    if (nl == nullptr) fail("GLOBAL name has no terminating newline (truncated)");
    return take(static_cast<const char*>(nl) - begin + 1).substr(0, static_cast<const char*>(nl) - begin);
  }

  Value* make(Kind kind) {
    arena_.emplace_back();
    arena_.back().kind = kind;
    return &arena_.back();
  }
  Value* make_int(Kind kind, int64_t n) {
    Value* v = make(kind);
    v->number = n;
    return v;
  }
  void push(Value* v) { stack_.push_back(v); }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Value* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop");
    std::vector<Value*> items(stack_.begin() + static_cast<ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Value* container(Kind kind, const char* op) {
    Value* v = top();
    if (v->kind != kind) fail(fmt::format("{} on a {}, not a {}", op, kind_name(v->kind), kind_name(kind)));
    return v;
  }
  void set_item(Value* dict, Value* key, Value* value) {
    if (key->kind == Kind::String) {
      const auto [it, added] = dict->string_keys.emplace(key->text, dict->items.size());
      if (!added) {
        dict->items[it->second + 1] = value;  // Python semantics: a repeated key replaces
        return;
      }
    }
    dict->items.push_back(key);
    dict->items.push_back(value);
  }
  void set_items(Value* dict, const std::vector<Value*>& items) {
    if (items.size() % 2 != 0) fail("SETITEMS/DICT with an odd number of items");
    for (size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1]);
  }
  Value* tuple(std::vector<Value*> items) {
    Value* v = make(Kind::Tuple);
    v->items = std::move(items);
    return v;
  }
  Value* string(std::string_view s) {
    Value* v = make(Kind::String);
    v->text = s;
    return v;
  }
  int64_t long_int(std::string_view bytes) {
    if (bytes.empty()) return 0;
    const size_t n = std::min<size_t>(bytes.size(), 8);
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
    const bool negative = static_cast<uint8_t>(bytes[n - 1]) & 0x80;
    if (n < 8 && negative) v |= ~uint64_t{0} << (8 * n);
    for (size_t i = 8; i < bytes.size(); ++i) {
      if (static_cast<uint8_t>(bytes[i]) != (negative ? 0xff : 0x00)) fail("integer does not fit in 64 bits");
    }
    return static_cast<int64_t>(v);
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  Value* memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail(fmt::format("memo entry {} was never stored", index));
    return it->second;
  }

  Value* global(std::string_view module, std::string_view name) {
    const std::string full = fmt::format("{}.{}", printable(module, 60), printable(name, 60));
    Value* v = make(Kind::Global);
    v->text = full;
    if (module == "collections" && name == "OrderedDict") {
      v->callable = Callable::OrderedDict;
    } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      v->callable = Callable::RebuildTensor;
    } else if (module == "torch._utils" && name == "_rebuild_parameter") {
      v->callable = Callable::RebuildParameter;
    } else if (module == "torch._utils" && name == "_rebuild_parameter_with_state") {
      v->callable = Callable::RebuildParameterWithState;
    } else if (module == "torch" && name.ends_with("Storage")) {
      for (const StorageType& type : kStorageTypes) {
        if (type.name != name) continue;
        if (!type.dtype) refuse(fmt::format("pickle global {}: smol has no dtype for this storage type", full));
        v->callable = Callable::StorageType;
        v->dtype = *type.dtype;
        return v;
      }
      refuse(fmt::format("pickle global {} is not allowed", full));
    } else {
      refuse(fmt::format("pickle global {} is not allowed", full));
    }
    return v;
  }

  // ('storage', torch.<T>Storage, key, location, numel) -> one storage per key.
  Value* persistent_load(const Value* pid) {
    const auto& f = pid->items;
    if (pid->kind != Kind::Tuple || f.size() != 5 || f[0]->kind != Kind::String || f[0]->text != "storage") {
      fail("persistent id is not a ('storage', type, key, location, numel) tuple");
    }
    if (f[1]->kind != Kind::Global || f[1]->callable != Callable::StorageType) {
      fail("persistent id's storage type is not a torch storage type");
    }
    if (f[2]->kind != Kind::String || f[3]->kind != Kind::String || f[4]->kind != Kind::Int || f[4]->number < 0) {
      fail("persistent id's key, location or size has the wrong type");
    }
    const auto [it, added] = storage_by_key_.emplace(f[2]->text, out_.storages.size());
    if (added) {
      out_.storages.push_back({f[2]->text, f[1]->dtype, static_cast<uint64_t>(f[4]->number)});
    } else if (out_.storages[it->second].dtype != f[1]->dtype ||
               out_.storages[it->second].numel != static_cast<uint64_t>(f[4]->number)) {
      fail(fmt::format("storage '{}' is named with two types or sizes", printable(f[2]->text)));
    }
    return make_int(Kind::Storage, static_cast<int64_t>(it->second));
  }

  std::vector<int64_t> int_tuple(const Value* v, const char* what) {
    if (v->kind != Kind::Tuple) fail(fmt::format("tensor {} is a {}, not a tuple", what, kind_name(v->kind)));
    if (v->items.size() > kMaxRank) fail(fmt::format("tensor has {} dimensions (at most {})", v->items.size(), kMaxRank));
    std::vector<int64_t> out;
    for (const Value* item : v->items) {
      if (item->kind != Kind::Int || item->number < 0) fail(fmt::format("tensor {} holds a negative or non-integer value", what));
      out.push_back(item->number);
    }
    return out;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  Value* rebuild_tensor(const std::vector<Value*>& a) {
    if (a.size() != 6 && a.size() != 7) fail(fmt::format("_rebuild_tensor_v2 called with {} arguments", a.size()));
    if (a[0]->kind != Kind::Storage) fail(fmt::format("_rebuild_tensor_v2's storage is a {}", kind_name(a[0]->kind)));
    if (a[1]->kind != Kind::Int || a[1]->number < 0) fail("_rebuild_tensor_v2's storage offset is not an integer >= 0");
    PickledTensor t;
    t.storage = static_cast<size_t>(a[0]->number);
    t.offset = static_cast<uint64_t>(a[1]->number);
    t.shape = int_tuple(a[2], "size");
    t.stride = int_tuple(a[3], "stride");
    if (t.shape.size() != t.stride.size()) fail("tensor size and stride have different lengths");
    tensors_.push_back(std::move(t));
    return make_int(Kind::Tensor, static_cast<int64_t>(tensors_.size() - 1));
  }

  Value* call(const Value* callable, const Value* args) {
    if (callable->kind != Kind::Global) fail(fmt::format("REDUCE calls a {}, not a global", kind_name(callable->kind)));
    if (args->kind != Kind::Tuple) fail(fmt::format("REDUCE arguments are a {}, not a tuple", kind_name(args->kind)));
    const auto& a = args->items;
    switch (callable->callable) {
      case Callable::OrderedDict:
        if (!a.empty()) fail("collections.OrderedDict called with arguments");
        return make(Kind::Dict);
      case Callable::RebuildTensor: return rebuild_tensor(a);
      case Callable::RebuildParameter:
      case Callable::RebuildParameterWithState: {
        const size_t want = callable->callable == Callable::RebuildParameter ? 3 : 4;
        if (a.size() != want || a[0]->kind != Kind::Tensor) fail(fmt::format("{} needs a tensor and {} more arguments", callable->text, want - 1));
        return a[0];  // a Parameter is its tensor; requires_grad and hooks do not matter here
      }
      case Callable::StorageType: break;
    }
    fail(fmt::format("pickle calls {}; only torch._utils._rebuild_tensor_v2 may be called", callable->text));
  }

  // Runs one opcode; true at STOP.
  bool step() {
    op_pos_ = pos_;
    if (pos_ >= in_.size()) fail("ends without STOP (truncated)");
    const auto op = static_cast<uint8_t>(in_[pos_++]);
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t version = le(1);
        if (version > 5) fail(fmt::format("pickle protocol {} is newer than 5", version));
        break;
      }
      case 0x95: take(8); break;  // FRAME: a read-ahead hint; the opcodes simply continue
      case '.': return true;      // STOP
      case '(': marks_.push_back(stack_.size()); break;
      case '0':  // POP: with nothing above the mark, Python drops the mark
        if (stack_.size() > floor()) stack_.pop_back(); else pop_mark();
        break;
      case '1': pop_mark(); break;
      case '2': push(top()); break;
      case 'N': push(make(Kind::None)); break;
      case 0x88: push(make_int(Kind::Bool, 1)); break;
      case 0x89: push(make_int(Kind::Bool, 0)); break;
      case 'J': push(make_int(Kind::Int, static_cast<int32_t>(le(4)))); break;
      case 'K': push(make_int(Kind::Int, static_cast<int64_t>(le(1)))); break;
      case 'M': push(make_int(Kind::Int, static_cast<int64_t>(le(2)))); break;
      case 0x8a: push(make_int(Kind::Int, long_int(take(le(1))))); break;
      case 0x8b: push(make_int(Kind::Int, long_int(take(le(4))))); break;
      case 'G': {
        Value* v = make(Kind::Float);
        uint64_t bits = 0;
        for (const char c : take(8)) bits = (bits << 8) | static_cast<uint8_t>(c);  // big-endian
        v->real = std::bit_cast<double>(bits);
        push(v);
        break;
      }
      case 'X': push(string(take(le(4)))); break;
      case 0x8c: push(string(take(le(1)))); break;
      case 0x8d: push(string(take(le(8)))); break;
      case 'U': push(string(take(le(1)))); break;
      case 'T': {
        const auto n = static_cast<int32_t>(le(4));
        if (n < 0) fail("BINSTRING with a negative length");
        push(string(take(static_cast<uint64_t>(n))));
        break;
      }
      case ')': push(tuple({})); break;
      case 't': push(tuple(pop_mark())); break;
      case 0x85: case 0x86: case 0x87: {
        std::vector<Value*> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        push(tuple(std::move(items)));
        break;
      }
      case ']': push(make(Kind::List)); break;
      case 'l': {
        Value* v = make(Kind::List);
        v->items = pop_mark();
        push(v);
        break;
      }
      case 'a': {
        Value* item = pop();
        container(Kind::List, "APPEND")->items.push_back(item);
        break;
      }
      case 'e': {
        std::vector<Value*> items = pop_mark();
        Value* list = container(Kind::List, "APPENDS");
        list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case '}': push(make(Kind::Dict)); break;
      case 'd': {
        Value* dict = make(Kind::Dict);
        set_items(dict, pop_mark());
        push(dict);
        break;
      }
      case 's': {
        Value* value = pop();
        Value* key = pop();
        set_item(container(Kind::Dict, "SETITEM"), key, value);
        break;
      }
      case 'u': {
        std::vector<Value*> items = pop_mark();
        set_items(container(Kind::Dict, "SETITEMS"), items);
        break;
      }
      case 'q': memo_put(le(1)); break;
      case 'r': memo_put(le(4)); break;
      case 0x94: memo_put(memo_.size()); break;
      case 'h': push(memo_get(le(1))); break;
      case 'j': push(memo_get(le(4))); break;
      case 'c': {
        const std::string_view module = line();
        const std::string_view name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const Value* name = pop();
        const Value* module = pop();
        if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL needs two strings");
        push(global(module->text, name->text));
        break;
      }
      case 'R': {
        const Value* args = pop();
        const Value* callable = pop();
        push(call(callable, args));
        break;
      }
      case 'b': {  // BUILD: the state of a dict (_metadata) or tensor is data we do not need
        pop();
        const Value* target = top();
        if (target->kind != Kind::Dict && target->kind != Kind::Tensor) {
          fail(fmt::format("BUILD on a {}", kind_name(target->kind)));
        }
        break;
      }
      case 'Q': push(persistent_load(pop())); break;
      default: {
        const char* name = opcode_name(op);
        if (name == nullptr) fail(fmt::format("unknown pickle opcode 0x{:02x}", op));
        refuse(fmt::format("pickle opcode {} (0x{:02x}) at byte {} is not allowed", name, op, op_pos_));
      }
    }
    return false;
  }

  std::span<const std::byte> in_;
  const std::string& where_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::deque<Value> arena_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  std::vector<PickledTensor> tensors_;  // every tensor rebuilt; the dict picks some of them
  std::map<std::string, size_t> storage_by_key_;
  PickledStateDict out_;
};

}  // namespace

PickledStateDict read_state_dict_pickle(std::span<const std::byte> pickle, const std::string& where) {
  return Unpickler(pickle, where).run();
}

}  // namespace smol::formats_detail
