#pragma once
// "NAME", "NAME+OFF" as given to --ksym.
#include <cstdint>
#include <string>
#include <string_view>

namespace vmi {

struct SymbolExpression {
    std::string name;
    std::uint64_t offset = 0;

    static SymbolExpression parse(std::string_view text);
};

} // namespace vmi
