#pragma once
// The names of some cross-view views, for a finding's meaning: "the task
// list, the PID table and the children lists". Shared by the task and the
// module cross-views; `View` has an `id` and a human `name`.
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace vmi {

template <typename View>
std::string join_view_names(const std::vector<std::string>& ids, const std::vector<View>& views)
{
    std::vector<std::string> names;
    for (const std::string& id : ids)
        for (const View& view : views)
            if (view.id == id) names.push_back(view.name);
    if (names.size() <= 1) return names.empty() ? std::string() : names.front();
    std::string last = names.back();
    names.pop_back();
    return fmt::format("{} and {}", fmt::join(names, ", "), last);
}

} // namespace vmi
