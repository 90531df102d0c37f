// The config file parser (LibVMI's `name { key = value; }` format) with every
// key the tools accept, and what the layers ask of a parsed entry.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "FuzzSupport.hpp"
#include "common/GuestOptions.hpp"
#include "vmi/config/ConfigFile.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    vmi_fuzz::silence_library_messages();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    const vmi::ConfigKeySet& keys = vmi::all_config_keys();
    try {
        vmi::ConfigFile file = vmi::ConfigFile::parse(text, "fuzz.conf", keys);
        for (const auto& [name, entry] : file.entries) {
            if (file.find(name) != &entry) vmi_fuzz::invariant_failed("find() misses entry " + name);
            for (const auto& [key, value] : entry.values) {
                // Only known keys are kept, each with the kind its key declares.
                const vmi::ConfigKey* known = keys.find(key);
                if (!known) vmi_fuzz::invariant_failed("unknown key kept: " + key);
                bool number = known->kind == vmi::ConfigValueKind::Number;
                if (entry.number(key).has_value() != number || entry.text(key).has_value() == number)
                    vmi_fuzz::invariant_failed("key of the wrong kind kept: " + key);
            }
        }
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
    }
    return 0;
}
