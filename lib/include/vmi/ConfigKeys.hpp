#pragma once
// The keys a config entry may hold: every key LibVMI accepts, with the same
// meaning, and our own. Documented in man/vmi.conf.5.
#include <optional>
#include <string_view>

namespace vmi {

enum class ConfigValueKind { Number, Text };

struct ConfigKey {
    std::string_view name;
    ConfigValueKind kind;
    bool ours; // not a LibVMI key
};

std::optional<ConfigKey> find_config_key(std::string_view name);

} // namespace vmi
