#pragma once
// LibVMI's config file format (paper, Figures 9 and 10):
//
//   # comment
//   myguest {
//       ostype = "Linux";
//       sysmap = "/boot/System.map-6.1.0";
//       linux_tasks = 0x4f0;
//   }
//
// Errors carry file:line:column; keys outside the given key set and
// duplicates are warnings.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vmi/config/ConfigKeys.hpp"

namespace vmi {

struct ConfigValue {
    std::variant<std::uint64_t, std::string> value;
    int line = 0;
    int column = 0;
};

class ConfigEntry {
public:
    std::string name;
    std::string file;
    int line = 0;
    std::map<std::string, ConfigValue, std::less<>> values;

    bool has(std::string_view key) const;
    std::optional<std::uint64_t> number(std::string_view key) const;
    std::optional<std::string> text(std::string_view key) const;
};

class ConfigFile {
public:
    std::string path;
    std::map<std::string, ConfigEntry, std::less<>> entries;
    std::vector<std::string> warnings;

    static ConfigFile parse(std::string_view text, const std::string& path, const ConfigKeySet& keys);
    static ConfigFile load(const std::string& path, const ConfigKeySet& keys);

    const ConfigEntry* find(std::string_view name) const;
};

} // namespace vmi
