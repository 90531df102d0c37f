#include "BtfMemberPath.hpp"

#include "vmi/base/Error.hpp"

namespace vmi {

std::vector<BtfPathStep> parse_btf_member_path(std::string_view path)
{
    auto bad = [&](std::string_view why) -> void { fail("bad BTF member path '{}': {}", path, why); };
    std::vector<BtfPathStep> steps;
    std::size_t pos = 0;
    for (;;) {
        BtfPathStep step;
        std::size_t end = path.find_first_of(".[", pos);
        step.name = path.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        if (step.name.empty()) bad("empty member name");
        pos = end == std::string_view::npos ? path.size() : end;
        while (pos < path.size() && path[pos] == '[') {
            std::size_t close = path.find(']', pos);
            if (close == std::string_view::npos) bad("missing ']'");
            std::string_view digits = path.substr(pos + 1, close - pos - 1);
            if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos)
                bad("index is not a number");
            std::uint64_t index = 0;
            for (char c : digits) index = index * 10 + static_cast<std::uint64_t>(c - '0');
            step.indexes.push_back(index);
            pos = close + 1;
        }
        steps.push_back(step);
        if (pos == path.size()) return steps;
        if (path[pos] != '.') bad("expected '.' or '['");
        ++pos;
    }
}

} // namespace vmi
