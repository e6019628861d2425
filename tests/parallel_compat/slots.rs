//! GNU parallel's job slots (`{%}`, `$PARALLEL_JOBSLOT`), against GNU
//! parallel itself: the first jobs take slots 1, 2, 3 .. in order, and a
//! job that ends hands its slot to the next job started.

use super::same;

/// Jobs 1 to 5 hold their slots until job 9 lets them end (with a file
/// each, which they remove): they take slots 1 to 5 in order, and jobs 6
/// to 9 take slot 6 in turn. (Without jobs that wait, GNU parallel on a
/// busy machine may see a job end before it starts the next, and give
/// that one the slot again.)
#[test]
fn first_jobs_take_the_slots_in_order_and_an_ended_jobs_slot_goes_to_the_next() {
    for _ in 0..3 {
        same(
            &[
                "-k",
                "-j6",
                "case {#} in [1-5]) until [ -e go{#} ]; do sleep 0.01; done; rm go{#};; \
                 9) touch go1 go2 go3 go4 go5;; esac; echo {#} {%} $PARALLEL_JOBSLOT",
                ":::",
                "a",
                "b",
                "c",
                "d",
                "e",
                "f",
                "g",
                "h",
                "i",
            ],
            b"",
        );
    }
}
