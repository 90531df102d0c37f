#pragma once
// One thing a walk of the guest kernel's data could not do, or did not
// believe, typed so that callers decide by its kind and never by its words.
#include <cstdint>
#include <string>

namespace vmi {

struct WalkProblem {
    enum class Kind {
        walk_stopped,      // the walk ended before its end: a bad link, a loop, the cap
        broken_link,       // an entry whose neighbour does not point back; the walk went on
        bad_pointer,       // a pointer the walk had to follow is not a kernel address
        field_unreadable,  // one field of one object; the object and the walk are whole
        object_unreadable, // an object a view holds whose identity (pid, name) cannot be read
    };
    Kind kind = Kind::walk_stopped;
    std::uint64_t object = 0; // the structure concerned (task_struct, module), 0 for the whole walk
    std::string field;        // with field_unreadable: the field ("uid", "name")
    std::string message;      // for people, naming the object

    // Whether the walk itself may have missed entries or links: what a
    // cross view must hear about. An unreadable field of one object is not.
    bool concerns_walk() const
    {
        return kind == Kind::walk_stopped || kind == Kind::broken_link || kind == Kind::bad_pointer;
    }
};

// The walk of `what` ended early (a bad link, a loop, the cap, a read that failed).
inline WalkProblem walk_stopped(std::string message)
{
    return {WalkProblem::Kind::walk_stopped, 0, {}, std::move(message)};
}
// A link whose way back is wrong; the walk went on.
inline WalkProblem broken_link(std::string message)
{
    return {WalkProblem::Kind::broken_link, 0, {}, std::move(message)};
}
// A pointer the walk had to follow is no kernel address.
inline WalkProblem bad_pointer(std::string message, std::uint64_t object = 0)
{
    return {WalkProblem::Kind::bad_pointer, object, {}, std::move(message)};
}

} // namespace vmi
