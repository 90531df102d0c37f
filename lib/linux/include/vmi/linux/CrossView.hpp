#pragma once
// The cross-view check, for every kind of kernel object (tasks, modules). The
// kernel keeps several records of its objects (a list, a table, a tree); each
// is walked on its own (a view, a set of object addresses), and every object
// any view holds is compared across all of them. A rootkit that edits one
// record leaves the others as they were; the comparison shows the edit.
//
// A kind describes its views in one table of ViewRows: the view's id, its
// headings, its name for people, what a gap in it means and which objects it
// must hold. That table drives the comparison here and the tools' columns,
// their help and the --all defaults. A new view is one row and one walker.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vmi/linux/WalkProblem.hpp"

namespace vmi {

// One row of a kind's table of views. `Facts` is what the kind knows of one
// object that decides which views must hold it (for a task: idle, a thread).
template <typename Facts>
struct ViewRow {
    std::string_view id;     // the column's id (-o, JSON keys, a finding's seen_by): "pid_table"
    std::string_view header; // the text table's heading: "PIDTABLE"
    std::string_view name;   // for people, in a finding's meaning: "the PID table"
    std::string_view help;   // what the column shows: "in the PID table (init_pid_ns.idr)"
    std::string_view gap;    // what the view's missing an object it must hold means
    // Whether the view must hold the object; null when what the view misses is
    // never a finding (a scan, the runqueues).
    bool (*must_hold)(const Facts&) = nullptr;
};

// The row of `id` in `rows`, or null.
template <typename Facts>
const ViewRow<Facts>* find_view_row(std::span<const ViewRow<Facts>> rows, std::string_view id)
{
    auto it = std::find_if(rows.begin(), rows.end(), [&](const ViewRow<Facts>& row) { return row.id == id; });
    return it == rows.end() ? nullptr : &*it;
}

// What one walk of a view found. A view whose layout fields or symbols are
// missing is unavailable (with why), never an error: the check goes on with
// the others. Each walk is bounded and distrusts every pointer.
struct ObjectView {
    ObjectView() = default;
    explicit ObjectView(std::string view_id) : id(std::move(view_id)) {}

    std::string id; // its row's id
    bool available = true;
    std::string unavailable; // why not, when !available
    std::unordered_set<std::uint64_t> objects;
    std::vector<WalkProblem> problems; // walks that stopped early, links that do not agree
    // Whether every walk of the view went to its end. One that stopped early
    // (a bad pointer, a loop, the cap) may have missed objects for that
    // reason: what the view misses is then no finding. A link whose way back
    // is wrong is a problem but leaves the walk whole.
    bool complete = true;
};

// A view that could not be walked on this kernel, and why.
inline ObjectView unavailable_view(std::string id, std::string why)
{
    ObjectView view(std::move(id));
    view.available = false;
    view.unavailable = std::move(why);
    return view;
}

// The ids of the views that hold the object at `address`.
inline std::vector<std::string> views_holding(const std::vector<ObjectView>& views, std::uint64_t address)
{
    std::vector<std::string> ids;
    for (const ObjectView& view : views)
        if (view.objects.contains(address)) ids.push_back(view.id);
    return ids;
}

// One object any view holds, and how the views compare on it.
template <typename Object>
struct CrossViewEntry {
    Object object;
    // One each per view, in CrossView::views' order.
    std::vector<bool> seen;
    std::vector<bool> expected;         // the view must hold it (and was walked whole)
    std::vector<std::string> seen_by;   // view ids
    std::vector<std::string> missed_by; // the expected views that miss it
    bool hidden = false;                // an expected view misses it, and nothing normal explains that
    std::string meaning;                // a finding's explanation, or why a gap is normal
};

template <typename Object>
struct CrossView {
    std::vector<ObjectView> views;
    std::vector<CrossViewEntry<Object>> entries; // in the kind's order
    std::vector<std::string> warnings;
    // The views' walk problems, then the objects that could not be compared (object_unreadable).
    std::vector<WalkProblem> problems;

    bool found_hidden() const
    {
        return std::any_of(entries.begin(), entries.end(), [](const CrossViewEntry<Object>& e) { return e.hidden; });
    }
    std::vector<std::string> problem_messages() const
    {
        std::vector<std::string> out;
        for (const WalkProblem& problem : problems) out.push_back(problem.message);
        return out;
    }
};

// "the task list, the PID table and the children lists": the names of the
// views `ids` names (an id without a row stands for itself).
template <typename Facts>
std::string join_view_names(const std::vector<std::string>& ids, std::span<const ViewRow<Facts>> rows)
{
    std::vector<std::string> names;
    for (const std::string& id : ids) {
        const ViewRow<Facts>* row = find_view_row(rows, id);
        names.emplace_back(row ? row->name : std::string_view(id));
    }
    if (names.size() <= 1) return names.empty() ? std::string() : names.front();
    std::string last = names.back();
    names.pop_back();
    return fmt::format("{} and {}", fmt::join(names, ", "), last);
}

// The comparison. `Kind` gives what differs between kinds of objects:
//   using Object, Facts;
//   std::span<const ViewRow<Facts>> rows() const;
//   Object read(std::uint64_t address);
//   std::optional<std::string> unreadable(const Object&, const std::vector<ObjectView>& views) const;
//       why the object cannot be compared (its identity cannot be read); views_holding() names
//       the views it came from
//   std::uint64_t address(const Object&) const;
//   Facts facts(const Object&);
//   bool seen(const ObjectView&, const Object&) const;  whether the view holds the object
//   void explain(CrossViewEntry<Object>&, const Facts&) const;  sets hidden and meaning
//   void finish(CrossView<Object>&);  what the kind adds at the end (warnings)
//   bool before(const Object&, const Object&) const;  the entries' order
// Every object any view holds is read once, through the kind. A view must
// hold an object when it is available, was walked whole, and its row's
// must_hold says so for the object's facts.
template <typename Kind>
CrossView<typename Kind::Object> compare_views(Kind& kind, std::vector<ObjectView> views)
{
    using Object = typename Kind::Object;
    CrossView<Object> out;
    std::unordered_set<std::uint64_t> all;
    for (ObjectView& view : views) {
        all.insert(view.objects.begin(), view.objects.end());
        for (WalkProblem& problem : view.problems) out.problems.push_back(std::move(problem));
        view.problems.clear();
    }
    // Each view's row, looked up once; a view that must hold an object needs a
    // row, and must be available and walked whole.
    std::vector<const ViewRow<typename Kind::Facts>*> judging;
    for (const ObjectView& view : views) {
        const auto* row = find_view_row(kind.rows(), view.id);
        judging.push_back(view.available && view.complete && row && row->must_hold ? row : nullptr);
    }
    for (std::uint64_t address : all) {
        CrossViewEntry<Object> entry{kind.read(address), {}, {}, {}, {}, false, {}};
        if (std::optional<std::string> why = kind.unreadable(entry.object, views)) {
            out.problems.push_back({WalkProblem::Kind::object_unreadable, address, {}, std::move(*why)});
            continue;
        }
        typename Kind::Facts facts = kind.facts(entry.object);
        for (std::size_t i = 0; i < views.size(); ++i) {
            const ObjectView& view = views[i];
            bool seen = kind.seen(view, entry.object);
            bool expected = judging[i] && judging[i]->must_hold(facts);
            entry.seen.push_back(seen);
            entry.expected.push_back(expected);
            if (seen) entry.seen_by.push_back(view.id);
            if (expected && !seen) entry.missed_by.push_back(view.id);
        }
        kind.explain(entry, facts);
        out.entries.push_back(std::move(entry));
    }
    kind.finish(out);
    std::sort(out.entries.begin(), out.entries.end(),
              [&](const CrossViewEntry<Object>& a, const CrossViewEntry<Object>& b) {
                  return kind.before(a.object, b.object);
              });
    out.views = std::move(views);
    return out;
}

} // namespace vmi
