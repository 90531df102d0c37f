// LinuxLayout's text form for the kernel build cache: a resolved layout comes
// back the same, and text that is not what serialize() writes is refused.
#include <doctest/doctest.h>

#include "vmi/config/ConfigFile.hpp"
#include "vmi/linux/LinuxLayout.hpp"

namespace {

vmi::LinuxLayout sample_layout()
{
    vmi::ConfigEntry entry;
    entry.values["linux_tasks"] = vmi::ConfigValue{std::uint64_t{0x890}};
    entry.values["linux_name"] = vmi::ConfigValue{std::uint64_t{0xba0}};
    entry.values["linux_pid"] = vmi::ConfigValue{std::uint64_t{0x990}};
    entry.values["linux_module_core_size"] = vmi::ConfigValue{std::uint64_t{0x158}};
    return vmi::LinuxLayout::resolve(&entry, nullptr);
}

} // namespace

TEST_CASE("a serialized layout deserializes to the same values, sources marked")
{
    vmi::LinuxLayout layout = sample_layout();
    std::optional<vmi::LinuxLayout> back = vmi::LinuxLayout::deserialize(layout.serialize(), " (cached)");
    REQUIRE(back);
    CHECK(back->serialize() == vmi::LinuxLayout::deserialize(back->serialize(), "")->serialize());
    for (const char* key : {"linux_tasks", "linux_name", "linux_pid", "linux_name_len"}) {
        CAPTURE(key);
        CHECK(back->find(key) == layout.find(key));
        CHECK(back->source(key) == layout.source(key) + " (cached)");
    }
    CHECK(back->module_size_offsets() == layout.module_size_offsets());
    CHECK_FALSE(back->find("linux_mm"));
}

TEST_CASE("text that serialize() did not write is refused")
{
    std::string good = sample_layout().serialize();
    CHECK_FALSE(vmi::LinuxLayout::deserialize("", ""));                                    // no linux_tasks
    CHECK_FALSE(vmi::LinuxLayout::deserialize(good.substr(0, good.size() - 1), ""));       // last line cut
    CHECK_FALSE(vmi::LinuxLayout::deserialize(good + "value linux_nope 0x1 x\n", ""));     // unknown key
    CHECK_FALSE(vmi::LinuxLayout::deserialize(good + "value linux_mm 0x1000000 x\n", "")); // beyond any struct
    CHECK_FALSE(vmi::LinuxLayout::deserialize(good + "value linux_mm 12 x\n", ""));        // not hex
    CHECK_FALSE(vmi::LinuxLayout::deserialize(good + "colour blue\n", ""));
    CHECK(vmi::LinuxLayout::deserialize(good + "value linux_mm 0x8a0 BTF task_struct.mm\n", "")->find("linux_mm") ==
          0x8a0U);
}
