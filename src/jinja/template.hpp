#pragma once
// A compiled Jinja2 template: parsed once, rendered many times. Rendering follows Jinja2's
// semantics as transformers configures it (ImmutableSandboxedEnvironment, trim_blocks,
// lstrip_blocks, default Undefined, loop controls).
#include <string>
#include <string_view>

#include "jinja/ast.hpp"
#include "jinja/value.hpp"

namespace smol::jinja {

class Template {
 public:
  // Throws smol::Error naming `name`, the line and the column when the syntax is wrong or
  // unsupported.
  Template(std::string_view source, std::string name);

  // Renders with `variables` visible to the template (they shadow the global functions).
  // Errors are smol::Error; raise_exception('msg') throws one whose message is exactly msg.
  std::string render(const DictValue& variables) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  Body body_;
};

}  // namespace smol::jinja
