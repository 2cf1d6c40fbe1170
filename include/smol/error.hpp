#pragma once
// Every failure a user can cause (bad file, bad flag, overlong prompt) is reported as
// smol::Error with a one-line message that names the thing at fault and what is wrong.
#include <stdexcept>
#include <string>

namespace smol {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace smol
