#include "jinja/template.hpp"

#include <fmt/format.h>

#include "smol/error.hpp"
#include "jinja/builtins.hpp"
#include "jinja/lexer.hpp"
#include "jinja/parser.hpp"

namespace smol::jinja {

namespace {

// Variables of one frame. A for-loop iteration or macro call gets a fresh frame, so `set`
// inside them does not leak out (the reason templates use namespace()); `if` shares its frame.
struct Scope {
  std::shared_ptr<Scope> parent;
  DictValue vars;
};

constexpr int kMaxMacroDepth = 200;  // deep enough for recursive macros, short of the C++ stack

class Renderer {
 public:
  Renderer(const std::string& name, const DictValue& variables) : name_(name) {
    auto globals = std::make_shared<Scope>(Scope{nullptr, global_functions()});
    auto context = std::make_shared<Scope>(Scope{globals, variables});
    scope_ = std::make_shared<Scope>(Scope{context, {}});
  }

  std::string render(const Body& body) {
    std::string out;
    exec(body, out);
    return out;
  }

 private:
  enum class Flow { Normal, Break, Continue };

  const std::string& name_;
  std::shared_ptr<Scope> scope_;
  int macro_depth_ = 0;

  // Runs `f` with `scope` as the innermost frame, restoring the previous one even on errors.
  template <class F>
  auto with_scope(std::shared_ptr<Scope> scope, F f) {
    struct Restore {
      Renderer* r;
      std::shared_ptr<Scope> saved;
      ~Restore() { r->scope_ = std::move(saved); }
    } restore{this, std::exchange(scope_, std::move(scope))};
    return f();
  }

  [[noreturn]] void fail_at(int line, int column, const std::string& message) const {
    throw Error(fmt::format("{} line {}, column {}: {}", name_, line, column, message));
  }

  Value lookup(const std::string& name) const {
    for (const Scope* s = scope_.get(); s; s = s->parent.get())
      if (const Value* v = s->vars.find(name)) return *v;
    return Value::undefined(fmt::format("'{}' is undefined", name));
  }

  void assign(Scope& scope, const Target& target, const Value& value) {
    if (!target.unpack) return scope.vars.set(target.names[0], value);
    auto items = value.iterate();
    size_t want = target.names.size();
    if (items.size() > want)
      throw EvalError(fmt::format("too many values to unpack (expected {})", want));
    if (items.size() < want)
      throw EvalError(
          fmt::format("not enough values to unpack (expected {}, got {})", want, items.size()));
    for (size_t i = 0; i < want; ++i) scope.vars.set(target.names[i], items[i]);
  }

  // ---- statements ----

  Flow exec(const Body& body, std::string& out) {
    for (const auto& node : body) {
      Flow flow = Flow::Normal;
      try {
        flow = std::visit([&](const auto& n) { return exec_node(n, out); }, node->node);
      } catch (const EvalError& e) {
        fail_at(node->line, node->column, e.what());
      }
      if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
  }

  Flow exec_node(const TextNode& n, std::string& out) {
    out += n.text;
    return Flow::Normal;
  }

  Flow exec_node(const OutputNode& n, std::string& out) {
    out += eval(*n.expr).str();
    return Flow::Normal;
  }

  Flow exec_node(const IfNode& n, std::string& out) {
    for (const auto& [condition, body] : n.branches)
      if (eval(*condition).truthy()) return exec(body, out);
    return exec(n.otherwise, out);
  }

  Flow exec_node(const ForNode& n, std::string& out) {
    std::vector<Value> items;
    for (auto& item : eval(*n.iterable).iterate()) {
      if (n.filter) {
        auto probe = std::make_shared<Scope>(Scope{scope_, {}});
        assign(*probe, n.target, item);
        if (!with_scope(probe, [&] { return eval(*n.filter); }).truthy()) continue;
      }
      items.push_back(std::move(item));
    }
    if (items.empty()) {
      auto frame = std::make_shared<Scope>(Scope{scope_, {}});
      with_scope(frame, [&] { return exec(n.otherwise, out); });
      return Flow::Normal;
    }
    auto length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      auto frame = std::make_shared<Scope>(Scope{scope_, {}});
      assign(*frame, n.target, items[static_cast<size_t>(i)]);
      frame->vars.set("loop", loop_object(items, i));
      Flow flow = with_scope(frame, [&] { return exec(n.body, out); });
      if (flow == Flow::Break) break;
    }
    return Flow::Normal;
  }

  static Value loop_object(const std::vector<Value>& items, int64_t i) {
    auto length = static_cast<int64_t>(items.size());
    DictValue loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(length - i));
    loop.set("revindex0", Value(length - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == length - 1));
    loop.set("length", Value(length));
    loop.set("depth", Value(1));
    loop.set("depth0", Value(0));
    loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)]
                               : Value::undefined("there is no previous item"));
    loop.set("nextitem", i + 1 < length ? items[static_cast<size_t>(i + 1)]
                                        : Value::undefined("there is no next item"));
    loop.set("cycle", Value::function("cycle", [i](const Args& a) {
               if (a.positional.empty()) throw EvalError("no items for cycling given");
               return a.positional[static_cast<size_t>(i) % a.positional.size()];
             }));
    return Value::namespace_object(
        std::move(loop));  // attribute access only, like Jinja's LoopContext
  }

  Flow exec_node(const SetNode& n, std::string& out) {
    Value value;
    if (n.value) {
      value = eval(*n.value);
    } else {
      std::string rendered;
      exec(n.body, rendered);
      value = Value(std::move(rendered));
    }
    if (!n.target.attribute.empty()) {
      Value object = lookup(n.target.names[0]);
      if (!object.is_namespace())
        throw EvalError(
            fmt::format("cannot assign attribute on non-namespace object '{}'", n.target.names[0]));
      object.mutable_namespace().set(n.target.attribute, std::move(value));
    } else {
      assign(*scope_, n.target, value);
    }
    return Flow::Normal;
  }

  Flow exec_node(const MacroNode& n, std::string&) {
    // The frame holds the macro, so the macro holds its frame weakly (no reference cycle).
    // The callable refers to this renderer too: template values never outlive render().
    std::weak_ptr<Scope> closure = scope_;
    const MacroNode* macro = &n;
    scope_->vars.set(n.name, Value::function(n.name, [this, macro, closure](const Args& a) {
                       auto frame = closure.lock();
                       if (!frame)
                         throw EvalError(fmt::format("macro '{}' outlived its scope", macro->name));
                       return call_macro(*macro, frame, a);
                     }));
    return Flow::Normal;
  }

  Flow exec_node(const BreakNode&, std::string&) { return Flow::Break; }
  Flow exec_node(const ContinueNode&, std::string&) { return Flow::Continue; }

  Value call_macro(const MacroNode& macro, const std::shared_ptr<Scope>& closure, const Args& a) {
    if (a.positional.size() > macro.params.size())
      throw EvalError(fmt::format("macro '{}' takes not more than {} argument(s)", macro.name,
                                  macro.params.size()));
    if (macro_depth_ >= kMaxMacroDepth)
      throw EvalError(
          fmt::format("macro '{}' recursed deeper than {} calls", macro.name, kMaxMacroDepth));
    auto frame = std::make_shared<Scope>(Scope{closure, {}});
    for (const auto& kw : a.keyword) {
      const std::string& key = kw.first;  // a plain name: clang 14 cannot capture a structured binding
      bool known = std::any_of(macro.params.begin(), macro.params.end(),
                               [&](const auto& p) { return p.first == key; });
      if (!known)
        throw EvalError(fmt::format("macro '{}' takes no keyword argument '{}'", macro.name, key));
    }
    return with_scope(frame, [&] {
      for (size_t i = 0; i < macro.params.size(); ++i) {
        const auto& param = macro.params[i].first;  // not a structured binding, for clang 14
        const auto& fallback = macro.params[i].second;
        Value value = Value::undefined(fmt::format("parameter '{}' was not provided", param));
        if (i < a.positional.size())
          value = a.positional[i];
        else if (auto it = std::find_if(a.keyword.begin(), a.keyword.end(),
                                        [&](const auto& kv) { return kv.first == param; });
                 it != a.keyword.end())
          value = it->second;
        else if (fallback)
          value = eval(*fallback);
        frame->vars.set(param, std::move(value));
      }
      ++macro_depth_;
      std::string out;
      try {
        exec(macro.body, out);
      } catch (...) {
        --macro_depth_;
        throw;
      }
      --macro_depth_;
      return Value(std::move(out));
    });
  }

  // ---- expressions ----

  Value eval(const Expr& e) {
    try {
      return std::visit([&](const auto& n) { return eval_node(n); }, e.node);
    } catch (const EvalError& err) {
      fail_at(e.line, e.column, err.what());
    }
  }

  Args eval_args(const CallArgs& call) {
    Args args;
    for (const auto& p : call.positional) args.positional.push_back(eval(*p));
    for (const auto& [k, v] : call.keyword) args.keyword.emplace_back(k, eval(*v));
    return args;
  }

  Value eval_node(const Literal& n) { return n.value; }
  Value eval_node(const Name& n) { return lookup(n.name); }

  Value eval_node(const ListLit& n) {
    std::vector<Value> items;
    for (const auto& item : n.items) items.push_back(eval(*item));
    return n.tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  }

  Value eval_node(const DictLit& n) {
    DictValue d;
    for (const auto& [k, v] : n.items) {
      Value key = eval(*k);
      if (!key.is_string())
        throw EvalError(fmt::format("dict keys must be strings here, got {}", key.type_name()));
      d.set(key.as_string(), eval(*v));
    }
    return Value::dict(std::move(d));
  }

  Value eval_node(const GetAttr& n) { return get_attribute(eval(*n.object), n.name); }
  Value eval_node(const GetItem& n) { return get_item(eval(*n.object), eval(*n.index)); }

  Value eval_node(const Slice& n) {
    Value object = eval(*n.object);
    auto part = [&](const ExprPtr& p) { return p ? eval(*p) : Value(nullptr); };
    return slice(object, part(n.start), part(n.stop), part(n.step));
  }

  Value eval_node(const Call& n) {
    Value callee = eval(*n.callee);
    Args args = eval_args(n.args);
    if (callee.is_callable()) return callee.as_callable().call(args);
    if (callee.is_undefined()) throw EvalError(callee.undefined_hint());
    throw EvalError(fmt::format("'{}' object is not callable", callee.type_name()));
  }

  Value eval_node(const Filter& n) {
    Value input = eval(*n.input);
    return find_filter(n.name)(input, eval_args(n.args));
  }

  Value eval_node(const Test& n) {
    Value input = eval(*n.input);
    bool result = find_test(n.name)(input, eval_args(n.args));
    return Value(result != n.negated);
  }

  Value eval_node(const Unary& n) {
    Value v = eval(*n.operand);
    if (n.op == UnaryOp::Not) return Value(!v.truthy());
    if (v.is_undefined()) throw EvalError(v.undefined_hint());
    const char* symbol = n.op == UnaryOp::Neg ? "-" : "+";
    if (v.is_float()) return Value(n.op == UnaryOp::Neg ? -v.as_double() : v.as_double());
    if (v.is_int() || v.is_bool()) return Value(n.op == UnaryOp::Neg ? -v.as_int() : v.as_int());
    throw EvalError(fmt::format("bad operand type for unary {}: '{}'", symbol, v.type_name()));
  }

  Value eval_node(const Binary& n) {
    Value lhs = eval(*n.lhs);
    if (n.op == BinaryOp::And) return lhs.truthy() ? eval(*n.rhs) : lhs;
    if (n.op == BinaryOp::Or) return lhs.truthy() ? lhs : eval(*n.rhs);
    return binary_op(n.op, lhs, eval(*n.rhs));
  }

  Value eval_node(const Compare& n) {
    Value left = eval(*n.first);
    for (const auto& [op, expr] : n.rest) {
      Value right = eval(*expr);
      if (!compare_op(op, left, right)) return Value(false);
      left = std::move(right);
    }
    return Value(true);
  }

  Value eval_node(const CondExpr& n) {
    if (eval(*n.test).truthy()) return eval(*n.then);
    if (n.otherwise) return eval(*n.otherwise);
    return Value::undefined(
        "the inline if-expression evaluated to false and no else section was defined");
  }
};

}  // namespace

Template::Template(std::string_view source, std::string name)
    : name_(std::move(name)), body_(parse(tokenize(source, name_), name_)) {}

std::string Template::render(const DictValue& variables) const {
  return Renderer(name_, variables).render(body_);
}

}  // namespace smol::jinja
