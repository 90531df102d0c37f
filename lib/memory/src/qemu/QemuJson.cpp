#include "qemu/QemuJson.hpp"

#include "vmi/base/Error.hpp"

namespace vmi {

nlohmann::json qemu_request(const std::string& name, const nlohmann::json& arguments)
{
    nlohmann::json out{{"execute", name}};
    if (!arguments.empty()) out["arguments"] = arguments;
    return out;
}

nlohmann::json qemu_returned_value(const nlohmann::json& reply, const std::string& who, const std::string& name)
{
    if (!reply.is_object()) fail("{}: the answer to {} is not a JSON object", who, name);
    if (reply.contains("error")) {
        const nlohmann::json& error = reply["error"];
        fail("{}: {} failed: {}", who, name,
             error.is_object() && error.contains("desc") && error["desc"].is_string() ? error["desc"].get<std::string>()
                                                                                      : error.dump());
    }
    if (!reply.contains("return")) fail("{}: the answer to {} has no result", who, name);
    return reply["return"];
}

} // namespace vmi
