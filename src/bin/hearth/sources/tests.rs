//! Unit tests of the input sources, on what GNU parallel 20221122 does
//! with the same.

use std::io::Write;

use super::*;

fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

fn newline() -> Split {
    Split::lines()
}

/// The records of `line`'s sources, as text.
fn records(line: &str, split: &Split, header: bool) -> (Vec<String>, Vec<String>) {
    let (_, inputs) = Inputs::parse(words(line), &Separators::default(), &[], Vec::new()).unwrap();
    let (names, records) = inputs.open(split, header, false, false).unwrap();
    let text = |fields: Vec<Vec<u8>>| {
        fields
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let names = names
        .into_iter()
        .map(|n| String::from_utf8(n).unwrap())
        .collect();
    (names, records.map(|r| text(r.unwrap())).collect())
}

#[test]
fn lists_combine_the_last_fastest() {
    let (_, all) = records("echo ::: a b ::: 1 2 ::: x", &newline(), false);
    assert_eq!(all, ["a 1 x", "a 2 x", "b 1 x", "b 2 x"]);
    let (_, all) = records("echo ::: a b :::+ 1 2 3 ::: x y", &newline(), false);
    assert_eq!(all, ["a 1 x", "a 1 y", "b 2 x", "b 2 y"]);
    let (_, all) = records("echo ::: a b c :::+ 1 2", &newline(), false);
    assert_eq!(all, ["a 1", "b 2"]);
    let (_, all) = records("echo :::+ a b ::: 1", &newline(), false);
    assert_eq!(all, ["a 1", "b 1"]);
    // A source without values takes part with one empty value, as in GNU
    // parallel, unless no source has any.
    let (_, all) = records("echo ::: a :::", &newline(), false);
    assert_eq!(all, ["a "]);
    let (_, all) = records("echo ::: ::: a b", &newline(), false);
    assert_eq!(all, [" a", " b"]);
    let (_, all) = records("echo ::: a b :::+", &newline(), false);
    assert_eq!(all, ["a "]);
    let (_, all) = records("echo ::: :::", &newline(), false);
    assert_eq!(all, Vec::<String>::new());
}

#[test]
fn files_and_headers() {
    let dir = std::env::temp_dir().join(format!("hearth-sources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("f");
    let mut out = std::fs::File::create(&file).unwrap();
    out.write_all(b"name,age\r\nann,3\nbob,4").unwrap();
    drop(out);
    let line = format!("echo :::: {}", file.display());
    let split = Split {
        colsep: Some(Regex::new(",").unwrap()),
        ..Split::lines()
    };
    let (names, all) = records(&line, &split, true);
    assert_eq!(names, ["name", "age"]);
    assert_eq!(all, ["ann 3", "bob 4"]);
    let (_, all) = records(
        &format!("{line} ::::+ {}", file.display()),
        &newline(),
        false,
    );
    // Without a header, the CR stays, as in GNU parallel.
    assert_eq!(all, ["name,age\r name,age\r", "ann,3 ann,3", "bob,4 bob,4"]);
    let _ = std::fs::remove_dir_all(&dir);
    let (_, inputs) = Inputs::parse(
        words("echo :::: /nonexistent/f"),
        &Separators::default(),
        &[],
        Vec::new(),
    )
    .unwrap();
    let err = inputs.open(&newline(), false, false, false).err().unwrap();
    assert!(
        err.contains("cannot open the input file /nonexistent/f"),
        "{err}"
    );
}

#[test]
fn delimiters_end_values() {
    let values = |input: &'static [u8], delimiter: &[u8]| -> Vec<String> {
        Delimited {
            input: BufReader::new(Box::new(input)),
            delimiter: delimiter.to_vec(),
            name: "test".to_owned(),
            done: false,
        }
        .map(|v| String::from_utf8(v.unwrap()).unwrap())
        .collect()
    };
    assert_eq!(values(b"a\n\nb", b"\n"), ["a", "", "b"]);
    // A CR before the newline stays, as in GNU parallel.
    assert_eq!(values(b"a\r\nb\n", b"\n"), ["a\r", "b"]);
    assert_eq!(values(b"a:b:c\n", b":"), ["a", "b", "c\n"]);
    assert_eq!(values(b"a:b:", b":"), ["a", "b"]);
    assert_eq!(values(b"aXYbXYXc", b"XY"), ["a", "b", "Xc"]);
    assert_eq!(values(b"a\0\0b", b"\0"), ["a", "", "b"]);
    assert_eq!(delimiter("\\t").unwrap(), b"\t");
    assert_eq!(delimiter("\\x1f,").unwrap(), b"\x1f,");
    assert!(delimiter("").is_err());
}

#[test]
fn arg_values_join_the_first_list_and_stdin_is_the_default() {
    let (command, inputs) = Inputs::parse(
        words("echo {} ::: b ::: 1"),
        &Separators::default(),
        &[],
        vec![b"a".to_vec()],
    )
    .unwrap();
    assert_eq!(command, words("echo {}"));
    let (_, records) = inputs.open(&newline(), false, false, false).unwrap();
    assert_eq!(records.count(), 2);
    let (_, inputs) =
        Inputs::parse(words("echo"), &Separators::default(), &[], Vec::new()).unwrap();
    assert!(!inputs.all_listed());
    let (command, _) =
        Inputs::parse(words("::: a"), &Separators::default(), &[], Vec::new()).unwrap();
    assert!(command.is_empty());
    assert!(
        Inputs::parse(
            words("echo :::: - :::: -"),
            &Separators::default(),
            &[],
            Vec::new()
        )
        .is_err()
    );
}

#[test]
fn blank_values_trimming_and_an_end_of_file_string() {
    let split = Split {
        skip_blank: true,
        trim: Trim::Both,
        eof: Some(b"stop".to_vec()),
        ..Split::lines()
    };
    let (_, all) = records("echo ::: a  \t ' b ' stop c", &split, false);
    assert_eq!(all, ["a", "'", "b", "'"]);
    let split = Split {
        colsep: Some(Regex::new(",").unwrap()),
        trim: Trim::Left,
        ..Split::lines()
    };
    let (_, inputs) = Inputs::parse(
        vec![b"echo".to_vec(), b":::".to_vec(), b" x , y ".to_vec()],
        &Separators::default(),
        &[],
        Vec::new(),
    )
    .unwrap();
    let (_, mut records) = inputs.open(&split, false, false, false).unwrap();
    assert_eq!(
        records.next().unwrap().unwrap(),
        [b"x ".to_vec(), b"y ".to_vec()]
    );
    for (text, trim) in [
        ("n", Trim::None),
        ("l", Trim::Left),
        ("r", Trim::Right),
        ("lr", Trim::Both),
        ("rl", Trim::Both),
    ] {
        assert_eq!(Trim::parse(text), Ok(trim));
    }
    assert!(Trim::parse("x").unwrap_err().contains("--trim takes n"));
}

#[test]
fn separators_may_be_other_words() {
    let separators = Separators::new(",,", "//");
    let (command, inputs) = Inputs::parse(
        words("echo ::: ,, a b ,,+ 1 2"),
        &separators,
        &[],
        Vec::new(),
    )
    .unwrap();
    assert_eq!(command, words("echo :::"));
    let (_, records) = inputs.open(&newline(), false, false, false).unwrap();
    let all: Vec<_> = records.map(Result::unwrap).collect();
    assert_eq!(all, [words("a 1"), words("b 2")]);
}
