#pragma once
// FNV-1a, 64 bits: the cheap, stable hash that names cache entries and
// fingerprints kernel builds. Not for anything an attacker must not collide.
#include <cstdint>
#include <string_view>

namespace vmi {

class Fnv1a {
public:
    void add(std::uint8_t byte)
    {
        hash_ ^= byte;
        hash_ *= 0x100000001b3ULL;
    }
    void add(std::string_view text)
    {
        for (char c : text) add(static_cast<std::uint8_t>(c));
    }
    std::uint64_t value() const { return hash_; }

private:
    std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

inline std::uint64_t fnv1a(std::string_view text)
{
    Fnv1a hash;
    hash.add(text);
    return hash.value();
}

} // namespace vmi
