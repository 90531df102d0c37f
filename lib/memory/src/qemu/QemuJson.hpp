#pragma once
// The JSON both of QEMU's protocols speak, the monitor's (QMP) and the guest
// agent's (QGA): a request {"execute": NAME, "arguments": {...}}, and a reply
// that holds either "return" or "error".
#include <string>

#include <nlohmann/json.hpp>

namespace vmi {

nlohmann::json qemu_request(const std::string& name, const nlohmann::json& arguments);

// The "return" value of `reply`. Throws vmi::Error "WHO: NAME failed: DESC"
// for an "error" reply, and names `who` when the reply is neither.
nlohmann::json qemu_returned_value(const nlohmann::json& reply, const std::string& who, const std::string& name);

} // namespace vmi
