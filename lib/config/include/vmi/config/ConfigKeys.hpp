#pragma once
// The keys a config entry may hold. The parser knows none of them by itself:
// each layer that reads the config names its own keys (the memory source's,
// the Linux layer's) and the tool hands the union to the parser, which warns
// about any other key. Documented in man/vmi.conf.5.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmi {

enum class ConfigValueKind { Number, Text };

struct ConfigKey {
    std::string_view name;
    ConfigValueKind kind;
    bool ours; // not a LibVMI key
    // Checks a text value; returns why it is wrong, or nullopt when it is right.
    std::function<std::optional<std::string>(std::string_view)> check = {};
};

class ConfigKeySet {
public:
    ConfigKeySet() = default;
    ConfigKeySet(std::initializer_list<ConfigKey> keys) : keys_(keys) {}

    ConfigKeySet& add(const ConfigKeySet& other);
    const ConfigKey* find(std::string_view name) const;
    const std::vector<ConfigKey>& keys() const { return keys_; }

private:
    std::vector<ConfigKey> keys_;
};

// Keys LibVMI accepts that no layer here reads (Windows, FreeBSD, AArch64,
// Rekall/Volatility profiles, ostype): a LibVMI config with them loads
// without a warning, and they are ignored.
const ConfigKeySet& libvmi_keys_read_by_no_layer();

} // namespace vmi
