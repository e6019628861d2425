//! GNU parallel's template files (`--tmpl FILE=OUT`, `--template`),
//! against GNU parallel itself: each job's OUT is written before it runs,
//! with FILE's text and the job's inputs, and `--cleanup` removes it.

use std::fs;

use super::{parallel, run_by, same_in, scratch};

const TEMPLATE: &[u8] = b"x={1} y={2} n={#} s={%} q={=uc($_)=}\nall {} {.} {/}\n";

#[test]
fn template_files_are_filled_for_each_job() {
    let files: &[(&str, &[u8])] = &[("t.tmpl", TEMPLATE)];
    same_in(
        files,
        &[
            "-k",
            "-j1",
            "--tmpl",
            "t.tmpl=out{#}.txt",
            "cat out{#}.txt",
            ":::",
            "a.b",
            "d/c.e f",
        ],
        b"",
    );
    // Two sources: {1} and {2}; {} and its kin with nothing between the
    // values, as GNU parallel writes them.
    same_in(
        files,
        &[
            "-k",
            "-j1",
            "--template",
            "t.tmpl=o{1}",
            "cat o{1}",
            ":::",
            "A",
            "B",
            ":::",
            "C",
        ],
        b"",
    );
    // The same OUT for every job: each job sees its own text.
    same_in(
        files,
        &[
            "-k",
            "-j1",
            "--tmpl",
            "t.tmpl=same",
            "cat same",
            ":::",
            "a",
            "b",
        ],
        b"",
    );
}

/// The files stay, unless --cleanup; a template that cannot be read is
/// an error before any job runs (exit status 255).
#[test]
fn template_files_stay_unless_cleaned_up() {
    let Some(parallel) = parallel() else { return };
    for args in [
        // One job at a time: {%} in the text is then known.
        &[
            "-k",
            "-j1",
            "--tmpl",
            "t.tmpl=out{#}",
            "true",
            ":::",
            "a",
            "b",
        ][..],
        &[
            "-k",
            "-j1",
            "--cleanup",
            "--tmpl",
            "t.tmpl=out{#}",
            "cat out{#}",
            ":::",
            "a",
            "b",
        ],
        &["-k", "--tmpl", "missing=out{#}", "echo", ":::", "a"],
    ] {
        let mut seen = Vec::new();
        for tool in ["parallel", "hearth"] {
            let dir = scratch("tmpl");
            fs::write(dir.join("t.tmpl"), TEMPLATE).unwrap();
            let output = run_by(tool, parallel, args, b"", &dir);
            let mut left: Vec<(String, String)> = fs::read_dir(&dir)
                .unwrap()
                .map(|entry| {
                    let path = entry.unwrap().path();
                    (
                        path.file_name().unwrap().to_string_lossy().into_owned(),
                        fs::read_to_string(&path).unwrap_or_default(),
                    )
                })
                .collect();
            left.sort();
            seen.push((output.status.code(), output.stdout.clone(), left));
            let _ = fs::remove_dir_all(&dir);
        }
        assert_eq!(seen[1], seen[0], "{args:?}: hearth map, then GNU parallel");
    }
}
