#include "qemu/QemuOptions.hpp"

namespace vmi {

std::vector<std::string> qemu_option_parts(const std::string& text)
{
    std::vector<std::string> parts(1);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ',' && i + 1 < text.size() && text[i + 1] == ',') {
            parts.back() += ',';
            ++i;
        } else if (text[i] == ',') {
            parts.emplace_back();
        } else {
            parts.back() += text[i];
        }
    }
    return parts;
}

std::optional<std::string> qemu_part_value(const std::vector<std::string>& parts, std::string_view key)
{
    for (const std::string& part : parts)
        if (part.size() > key.size() && part.starts_with(key) && part[key.size()] == '=')
            return part.substr(key.size() + 1);
    return std::nullopt;
}

std::optional<std::string> qemu_option_value(const std::vector<std::string>& argv, std::size_t& i,
                                             std::string_view name)
{
    std::string_view arg = argv[i];
    if (arg.starts_with("--")) arg.remove_prefix(1);
    if (!arg.starts_with('-')) return std::nullopt;
    arg.remove_prefix(1);
    if (arg == name) {
        if (i + 1 >= argv.size()) return std::nullopt;
        return argv[++i];
    }
    if (arg.size() > name.size() && arg.starts_with(name) && arg[name.size()] == '=')
        return std::string(arg.substr(name.size() + 1));
    return std::nullopt;
}

std::vector<std::string> qemu_option_values(const std::vector<std::string>& argv, std::string_view name)
{
    std::vector<std::string> values;
    for (std::size_t i = 1; i < argv.size(); ++i)
        if (std::optional<std::string> value = qemu_option_value(argv, i, name)) values.push_back(std::move(*value));
    return values;
}

} // namespace vmi
