#pragma once
// The columns of a cross-view check's table (vmi-ps --check, vmi-lsmod
// --check) that come from the kind's table of views (vmi/linux/CrossView.hpp):
// one column per view, its id, heading and help the view row's, and the view
// columns of --all. A view added to the kind's table is a column here.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/Cell.hpp"
#include "common/ColumnTable.hpp"
#include "vmi/linux/CrossView.hpp"

namespace vmi {

// One line of the table: an entry of the check.
template <typename Object>
struct CrossViewLine {
    const CrossViewEntry<Object>& entry;
    const CrossView<Object>& check;
};

// Whether view `id` sees the line's entry; no value when the view is
// unavailable on this kernel or was not walked (for "guest": no list given).
template <typename Object>
Cell view_cell(const CrossViewLine<Object>& line, std::string_view id)
{
    for (std::size_t i = 0; i < line.check.views.size(); ++i) {
        if (line.check.views[i].id != id) continue;
        if (!line.check.views[i].available) return std::monostate{};
        return static_cast<bool>(line.entry.seen[i]);
    }
    return std::monostate{};
}

// One column per view, in the table's order.
template <typename Object, typename Facts>
std::vector<Column<CrossViewLine<Object>>> view_columns(std::span<const ViewRow<Facts>> views)
{
    std::vector<Column<CrossViewLine<Object>>> columns;
    for (const ViewRow<Facts>& view : views) {
        std::string_view id = view.id;
        columns.push_back({view.id, view.header, Align::Left, view.help,
                           [id](const CrossViewLine<Object>& line) { return view_cell(line, id); }});
    }
    return columns;
}

// The columns after the views': seen_by, missed_by and meaning. `seen_help` and
// `missed_help` say it with the kind's verb ("the views that list it").
template <typename Object>
std::vector<Column<CrossViewLine<Object>>> verdict_columns(std::string_view seen_help, std::string_view missed_help)
{
    using Line = CrossViewLine<Object>;
    return {{"seen_by", "SEEN-BY", Align::Left, seen_help, [](const Line& l) { return Cell(l.entry.seen_by); }},
            {"missed_by", "MISSED-BY", Align::Left, missed_help, [](const Line& l) { return Cell(l.entry.missed_by); }},
            {"meaning", "MEANING", Align::Left, "what a gap means, or why it is normal",
             [](const Line& l) { return Cell(l.entry.meaning); }}};
}

// "tasks,pid_table,...": the views --all shows as text: all but `left_out`.
template <typename Facts>
std::string all_view_ids(std::span<const ViewRow<Facts>> views, std::string_view left_out = {})
{
    std::string out;
    for (const ViewRow<Facts>& view : views)
        if (view.id != left_out) out += (out.empty() ? "" : ",") + std::string(view.id);
    return out;
}

} // namespace vmi
