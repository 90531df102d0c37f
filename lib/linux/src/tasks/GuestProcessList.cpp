#include "vmi/linux/GuestProcessList.hpp"

#include <charconv>
#include <sstream>

#include "vmi/base/Error.hpp"

namespace vmi {

std::vector<GuestProcess> parse_guest_process_list(std::istream& in, std::size_t max_lines)
{
    constexpr std::size_t MAX_LINE = 4096;
    std::vector<GuestProcess> out;
    std::string line;
    std::size_t lines = 0;
    while (std::getline(in, line)) {
        if (++lines > max_lines) fail("the guest's process list has more than {} lines", max_lines);
        if (line.size() > MAX_LINE) line.resize(MAX_LINE);
        std::istringstream words(line);
        std::string first;
        if (!(words >> first)) continue;
        if (first.starts_with("/proc/")) first = first.substr(6);
        GuestProcess process;
        auto [end, error] = std::from_chars(first.data(), first.data() + first.size(), process.pid);
        if (error != std::errc() || end != first.data() + first.size() || process.pid <= 0) continue;
        std::string word;
        while (words >> word) process.name = word;
        out.push_back(std::move(process));
    }
    return out;
}

} // namespace vmi
