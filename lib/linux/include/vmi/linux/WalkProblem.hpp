#pragma once
// One thing a walk of the guest kernel's data could not do, or did not
// believe, typed so that callers decide by its kind and never by its words.
#include <cstdint>
#include <string>

namespace vmi {

struct WalkProblem {
    enum class Kind {
        walk_stopped,     // the walk ended before its end: a bad link, a loop, the cap
        broken_link,      // an entry whose neighbour does not point back; the walk went on
        bad_pointer,      // a pointer the walk had to follow is not a kernel address
        field_unreadable, // one field of one object; the object and the walk are whole
    };
    Kind kind = Kind::walk_stopped;
    std::uint64_t object = 0; // the structure concerned (task_struct, module), 0 for the whole walk
    std::string field;        // with field_unreadable: the field ("uid", "name")
    std::string message;      // for people, naming the object

    // Whether the walk itself may have missed entries or links: what a
    // cross view must hear about. An unreadable field of one object is not.
    bool concerns_walk() const { return kind != Kind::field_unreadable; }
};

} // namespace vmi
