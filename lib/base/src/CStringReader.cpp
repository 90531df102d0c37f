#include "vmi/base/CStringReader.hpp"

#include <algorithm>

namespace vmi {

std::string read_c_string(const ByteReader& read, std::uint64_t address, std::size_t max_length, bool* terminated)
{
    std::string text;
    if (terminated) *terminated = false;
    std::uint8_t buffer[4096];
    while (text.size() < max_length) {
        std::uint64_t at = address + text.size();
        std::size_t chunk = std::min<std::size_t>(max_length - text.size(), 4096 - (at & 0xfff));
        read(at, {buffer, chunk});
        auto* nul = std::find(buffer, buffer + chunk, std::uint8_t{0});
        text.append(reinterpret_cast<const char*>(buffer), nul - buffer);
        if (nul != buffer + chunk) {
            if (terminated) *terminated = true;
            return text;
        }
    }
    return text;
}

} // namespace vmi
