//! Unit tests of the replacement strings, on what GNU parallel 20221122
//! prints for the same (`parallel --dry-run`).

use super::*;

fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

fn fields(values: &[&str]) -> Vec<Vec<u8>> {
    values.iter().map(|v| v.as_bytes().to_vec()).collect()
}

fn render(line: &str, values: &[&str]) -> String {
    let template = Template::parse(&words(line), &Names::default(), &[]).unwrap();
    let parts = template.render(&fields(values), 7, Fill::Join, true);
    String::from_utf8(parts.join(&b"<SLOT>"[..])).unwrap()
}

#[test]
fn edits_are_gnu_parallels() {
    let cases = [
        ("a.b.c", "a.b", "a.b.c", ".", "a.b"),
        ("nodot", "nodot", "nodot", ".", "nodot"),
        (".bashrc", "", ".bashrc", ".", ""),
        ("dir.d/file", "dir.d/file", "file", "dir.d", "file"),
        ("dir.d/.hid", "dir.d/", ".hid", "dir.d", ""),
        ("x/", "x/", "", ".", ""),
        ("", "", "", ".", ""),
        ("a/b/", "a/b/", "", "a", ""),
        ("..", ".", "..", ".", "."),
        ("/r", "/r", "r", "/", "r"),
        ("/x/y.z/a.b.c", "/x/y.z/a.b", "a.b.c", "/x/y.z", "a.b"),
        ("///", "///", "", "/", ""),
    ];
    for (value, no_ext, base, dir, base_no_ext) in cases {
        let v = value.as_bytes();
        assert_eq!(
            Edit::NoExt.apply(v).as_ref(),
            no_ext.as_bytes(),
            "{{.}} {value}"
        );
        assert_eq!(
            Edit::Base.apply(v).as_ref(),
            base.as_bytes(),
            "{{/}} {value}"
        );
        assert_eq!(
            Edit::Dir.apply(v).as_ref(),
            dir.as_bytes(),
            "{{//}} {value}"
        );
        assert_eq!(
            Edit::BaseNoExt.apply(v).as_ref(),
            base_no_ext.as_bytes(),
            "{{/.}} {value}"
        );
    }
}

#[test]
fn quoting_is_gnu_parallels() {
    let quoted = |v: &[u8]| {
        let mut out = Vec::new();
        quote(v, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    assert_eq!(quoted(b"a-b_c.d+e/f9"), "a-b_c.d+e/f9");
    assert_eq!(quoted(b"a b"), "'a b'");
    assert_eq!(quoted(b"it's"), "'it'\"'\"'s'");
    assert_eq!(quoted(b"'"), "\"'\"");
    assert_eq!(quoted(b"'a'"), "\"'\"'a'\"'\"");
    assert_eq!(quoted(b""), "''");
    assert_eq!(quoted(b"a=b"), "'a=b'");
    assert_eq!(quoted("é".as_bytes()), "'é'");
    assert_eq!(quoted(b"x$y"), "'x$y'");
}

#[test]
fn strings_and_positions() {
    assert_eq!(
        render("echo {} {1} {2} {.} {1.}", &["a.x", "1.z"]),
        "echo a.x 1.z a.x 1.z a 1 a"
    );
    assert_eq!(render("echo {3}", &["a", "b"]), "echo ");
    assert_eq!(render("echo {-1} {-2} {-3}", &["a", "b"]), "echo b a ");
    assert_eq!(render("echo {#} {%}x", &["a"]), "echo 7 <SLOT>x");
    assert_eq!(render("echo", &["a b", ""]), "echo 'a b' ''");
    assert_eq!(
        render("echo {1/} {2//} {1/.}", &["a/b.c", "d/e"]),
        "echo b.c d b"
    );
    // Not replacement strings: the command's own.
    assert_eq!(
        render("awk {print $1} {a,b} {1..3} {foo} ${HOME}", &["f"]),
        "awk {print $1} {a,b} {1..3} {foo} ${HOME} f"
    );
}

#[test]
fn context_replace_repeats_the_word() {
    let template = Template::parse(&words("echo pre{}post {#}"), &Names::default(), &[]).unwrap();
    let parts = template.render(&fields(&["a", "b c"]), 2, Fill::Context, true);
    assert_eq!(parts, [b"echo preapost pre'b c'post 2".to_vec()]);
    let parts = template.render(&fields(&["a", "b c"]), 2, Fill::Join, true);
    assert_eq!(parts, [b"echo prea 'b c'post 2".to_vec()]);
}

#[test]
fn renamed_strings_and_header_names() {
    let names = Names {
        all: ",,".to_owned(),
        no_ext: "XX".to_owned(),
        ..Names::default()
    };
    let template = Template::parse(&words("echo ,, {} XX {.} {1}"), &names, &[]).unwrap();
    assert_eq!(
        template.render(&fields(&["a.b"]), 1, Fill::Join, true),
        [b"echo a.b {} a {.} a.b".to_vec()]
    );
    let columns = fields(&["name", "age"]);
    let template =
        Template::parse(&words("echo {age} {name.}"), &Names::default(), &columns).unwrap();
    assert_eq!(
        template.render(&fields(&["x.y", "3"]), 1, Fill::Join, true),
        [b"echo 3 x".to_vec()]
    );
}

#[test]
fn unknown_strings_are_errors() {
    for line in [
        "echo {0}",
        "echo {= $_++; ( =}",
        "echo {=0 $_ =}",
        "echo {..}",
        "echo {+/}",
        "echo {##}",
        "echo {1#}",
    ] {
        let err = Template::parse(&words(line), &Names::default(), &[]).unwrap_err();
        assert!(!err.is_empty(), "{line}");
    }
}

#[test]
fn unquoted_for_tags() {
    let template = Template::parse(&words("{1}-{#}:"), &Names::default(), &[]).unwrap();
    assert_eq!(
        template.render(&fields(&["a b"]), 3, Fill::Join, false),
        [b"a b-3:".to_vec()]
    );
}

#[test]
fn plus_edits_cut_as_gnu_parallel_cuts() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "..",
            &[
                ("a/b.c.d.e", "a/b.c"),
                ("x.", "x."),
                ("x..", "x"),
                ("a.b/.c", "a.b/.c"),
            ],
        ),
        ("...", &[("a..b", "a..b"), ("a...b", "a")]),
        ("/..", &[("a/b.c.d.e", "b.c"), ("a.b/.c", ".c")]),
        ("+/", &[("a/b.c", "a"), ("/r", ""), ("noext", "")]),
        ("+.", &[("a.b/c", "b/c"), ("x.", ""), ("noext", "")]),
        ("+..", &[("a..b", ".b"), ("x.", ""), (".a.b", "a.b")]),
        ("+...", &[("a...b", "..b"), ("x.tar.gz", "")]),
    ];
    for (suffix, values) in cases {
        let edit = Edit::of_plus_suffix(suffix).unwrap();
        for (value, want) in *values {
            assert_eq!(
                String::from_utf8_lossy(&edit.apply(value.as_bytes())),
                *want,
                "{{{suffix}}} of {value:?}"
            );
        }
    }
}

#[test]
fn perl_expressions_are_found_across_words() {
    let mut codes = Vec::new();
    let marked = mark_perl(b"a{= s/x y/z/ =}b {=2 uq() =} {=-1=} {= open", &mut codes).unwrap();
    assert_eq!(marked, b"a\x000\x00b \x001:1\x00 \x002:-1\x00 {= open");
    assert_eq!(codes, [" s/x y/z/ ", " uq() ", ""]);
    assert_eq!(
        perl_marker(b"\x001:1\x00rest"),
        Some((Field::Perl(Some(1), 1), 5))
    );
    assert_eq!(perl_marker(b"\x000\x00"), Some((Field::Perl(None, 0), 3)));
    assert_eq!(perl_marker(b"text"), None);
}

#[test]
fn perl_expressions_run_on_each_input() {
    if std::process::Command::new("perl")
        .arg("-v")
        .output()
        .is_err()
    {
        return;
    }
    let template = Template::parse(
        &words("echo {= $_ = uc =} {=2 $_ .= \" \" . seq() =}"),
        &Names::default(),
        &[],
    )
    .unwrap();
    assert_eq!(
        template.render(&fields(&["a", "b"]), 7, Fill::Join, true),
        [b"echo A B 'b 7'".to_vec()]
    );
    assert_eq!(template.perl_error(), None);
}

#[test]
fn padded_slots_are_as_wide_as_the_number_of_slots() {
    let names = Names {
        plus: true,
        ..Names::default()
    };
    let template = Template::parse(&words("echo {0%}-{%}"), &names, &[]).unwrap();
    template.set_slots(120);
    let parts = template.render(&[], 1, Fill::Join, true);
    let on = |slot| RunsOn {
        slot,
        login: b"me@node1",
        host: b"node1",
        user: b"me",
        rank: b"2",
    };
    assert_eq!(join_slot(&parts, on(b"7")), b"echo 007-7");
    assert_eq!(join_slot(&parts, on(b"120")), b"echo 120-120");
    assert_eq!(join_slot(&[b"a".to_vec()], on(b"7")), b"a");
    let names = Names {
        plus: true,
        ..Names::default()
    };
    let template = Template::parse(&words("echo {host} {sshlogin}/{%}"), &names, &[]).unwrap();
    let parts = template.render(&[b"x".to_vec()], 1, Fill::Join, true);
    assert_eq!(join_slot(&parts, on(b"3")), b"echo node1 me@node1/3");
}

#[test]
fn pdsh_commands_have_pdshs_escapes_only() {
    let on = RunsOn {
        slot: b"1",
        login: b"me@node1",
        host: b"node1",
        user: b"me",
        rank: b"2",
    };
    let command = |text: &str, argv: bool| {
        let words: Vec<Vec<u8>> = text.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        let parts = Template::pdsh(&words, argv).render(&[], 1, Fill::Join, true);
        String::from_utf8(join_slot(&parts, on)).unwrap()
    };
    assert_eq!(
        command("echo %u@%h:%n %% %%h {} {1} %x", false),
        "echo me@node1:2 % %h {} {1} %x"
    );
    // The exec module: each word one argument, its values too, and the
    // shell only starts the program; the arguments end at an empty one.
    assert_eq!(
        command("echo x%hx a'b {}  after", true),
        r#"exec 'echo' 'xnode1x' 'a'"'"'b' '{}'"#
    );
    let words = [b"echo".to_vec(), b"%u".to_vec()];
    let parts = Template::pdsh(&words, true).render(&[], 1, Fill::Join, true);
    let odd = RunsOn {
        user: b"a';id;'",
        ..on
    };
    assert_eq!(join_slot(&parts, odd), br#"exec 'echo' 'a'"'"';id;'"'"''"#);
}
