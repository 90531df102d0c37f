#include "qemu/ProcessStat.hpp"

#include <fstream>
#include <sstream>

namespace vmi {

std::optional<std::string> proc_stat_field(const std::string& stat_path, int number)
{
    std::ifstream in(stat_path);
    std::string stat;
    std::getline(in, stat);
    std::size_t end_of_name = stat.rfind(')');
    if (end_of_name == std::string::npos || number < 3) return std::nullopt;
    std::istringstream fields(stat.substr(end_of_name + 1));
    std::string field;
    for (int at = 3; fields >> field; ++at)
        if (at == number) return field;
    return std::nullopt;
}

} // namespace vmi
