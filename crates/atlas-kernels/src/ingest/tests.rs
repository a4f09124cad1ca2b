use super::*;

/// Owned columns of a batch, built event by event.
#[derive(Default)]
struct Batch {
    event_id: Vec<u8>,
    interaction_id: Vec<u8>,
    kind: Vec<u8>,
    value: Vec<f64>,
    ts_ns: Vec<i64>,
    offsets: Vec<i64>,
    data: Vec<u8>,
    tenant_index: Vec<u32>,
    tenant_names: Vec<String>,
}

impl Batch {
    fn push(&mut self, id: u8, about: u8, kind: u8, value: f64, payload: &str) -> &mut Self {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.event_id.extend([id; 16]);
        self.interaction_id.extend([about; 16]);
        self.kind.push(kind);
        self.value.push(value);
        self.ts_ns.push(1_000 + i64::from(id));
        self.data.extend_from_slice(payload.as_bytes());
        self.data.push(b'\n');
        self.offsets.push(self.data.len() as i64);
        self.tenant_index.push(u32::from(id % 2));
        self.tenant_names = vec!["even".into(), "odd".into()];
        self
    }

    fn view(&self) -> SdkBatch<'_> {
        SdkBatch {
            event_id: &self.event_id,
            interaction_id: &self.interaction_id,
            kind: &self.kind,
            value: &self.value,
            ts_ns: &self.ts_ns,
            payload_offsets: &self.offsets,
            payload_data: &self.data,
            tenant_index: &self.tenant_index,
            tenant_names: &self.tenant_names,
        }
    }
}

const INTERACTION: &str = r#"{"tenant_id":"t","learning_key":"qa","model_version":null,"session_id":"s","input":"[{\"role\":\"user\",\"content\":\"h\u00e9\\n\ud83d\ude00\"}]","output":"hi","prompt_tokens":7,"completion_tokens":null,"metadata":"{}"}"#;
const RATING: &str = r#"{"tenant_id":"t","user_id":null,"name":null,"scale_min":1.0,"scale_max":5,"text":null,"source":"sdk","metadata":"{}"}"#;

fn column<'a>(table: &'a Table, name: &str) -> &'a Column {
    table
        .columns
        .iter()
        .find(|c| c.name == name)
        .expect("column exists")
}

fn texts(col: &Column) -> Vec<Option<String>> {
    let ColumnData::Utf8 { offsets, data } = &col.data else {
        panic!("{} is not text", col.name)
    };
    (0..col.len())
        .map(|i| {
            let valid = col.valid.as_ref().is_none_or(|v| v[i]);
            let s = &data[offsets[i] as usize..offsets[i + 1] as usize];
            valid.then(|| String::from_utf8(s.to_vec()).expect("utf-8"))
        })
        .collect()
}

#[test]
fn events_go_to_their_table_with_fields_unescaped() {
    let mut b = Batch::default();
    b.push(1, 0, 0, 12.5, INTERACTION)
        .push(2, 1, 1, 4.0, RATING)
        .push(3, 0, 0, f64::NAN, INTERACTION);
    let out = decode_sdk_batch(&b.view()).expect("decodes");
    assert_eq!(out.interactions.rows, vec![0, 2]);
    assert_eq!(out.feedback.rows, vec![1]);
    assert!(out.invalid.is_empty());
    let names: Vec<_> = out.interactions.columns.iter().map(|c| c.name).collect();
    assert_eq!(names[..3], ["id", "tenant_id", "session_id"]);
    assert_eq!(
        texts(column(&out.interactions, "tenant_id")),
        [Some("odd".to_string()), Some("odd".to_string())]
    );
    let input = texts(column(&out.interactions, "input"));
    assert_eq!(
        input[0].as_deref(),
        Some("[{\"role\":\"user\",\"content\":\"hé\\n😀\"}]")
    );
    assert_eq!(
        texts(column(&out.interactions, "model_version")),
        [None, None]
    );
    assert_eq!(
        column(&out.interactions, "latency_ms").valid,
        Some(vec![true, false])
    );
    assert_eq!(
        column(&out.interactions, "prompt_tokens").data,
        ColumnData::I64(vec![7, 7])
    );
    assert_eq!(
        column(&out.interactions, "created_at").data,
        ColumnData::I64(vec![1001, 1003])
    );
    let fb = &out.feedback;
    assert_eq!(texts(column(fb, "kind")), [Some("rating".to_string())]);
    assert_eq!(column(fb, "scale_max").data, ColumnData::F64(vec![5.0]));
    assert_eq!(column(fb, "value").data, ColumnData::F64(vec![4.0]));
    let ColumnData::Binary { data, .. } = &column(fb, "interaction_id").data else {
        panic!("binary")
    };
    assert_eq!(data, &vec![1u8; 16]);
}

#[test]
fn unknown_kinds_and_missing_required_fields_are_counted_out() {
    let mut b = Batch::default();
    b.push(1, 0, 9, 0.0, RATING)
        .push(2, 0, 0, 0.0, r#"{"tenant_id":"t","metadata":"{}"}"#)
        .push(
            3,
            0,
            2,
            1.0,
            r#"{"tenant_id":"t","metadata":"{}","source":null}"#,
        )
        .push(4, 0, 1, 1.0, RATING);
    let out = decode_sdk_batch(&b.view()).expect("decodes");
    assert_eq!(out.invalid, vec![0, 1, 2]);
    assert!(out.broken.is_empty());
    assert_eq!(out.feedback.rows, vec![3]);
    assert_eq!(out.interactions.rows, Vec::<i64>::new());
    assert!(out.interactions.columns.iter().all(|c| c.is_empty()));
}

#[test]
fn unknown_fields_are_skipped_even_when_nested() {
    let mut b = Batch::default();
    let line = r#"{"extra":{"a":[1,"}"]},"tenant_id":"t","source":"x","metadata":"{}","text":"t","n":true}"#;
    b.push(1, 0, 3, 1.0, line);
    let out = decode_sdk_batch(&b.view()).expect("decodes");
    assert_eq!(out.feedback.rows, vec![0]);
}

#[test]
fn malformed_payloads_refuse_the_batch_naming_the_event() {
    let cases = [
        (r#"{"tenant_id":"t""#, "expected ',' or '}'"),
        (r#"{"tenant_id":5}"#, "expected a string"),
        (r#"{"prompt_tokens":1.5}"#, "expected a 64-bit integer"),
        (r#"{"scale_min":"1"}"#, "expected a number"),
        (r#"{"text":"\ud800"}"#, "lone surrogate"),
        (r#"{"text":"a\qb"}"#, "unknown escape"),
        (r#"{"text":"x"} x"#, "unexpected text"),
        (r#"{"scale_min":01}"#, "expected ',' or '}'"),
        (r#"[1]"#, "expected an object"),
    ];
    for (payload, reason) in cases {
        let mut b = Batch::default();
        b.push(1, 0, 0, 0.0, INTERACTION)
            .push(2, 0, 1, 0.0, payload);
        let err = decode_sdk_batch(&b.view()).expect_err(payload).to_string();
        assert!(
            err.contains("event 1") && err.contains(reason),
            "{payload}: {err}"
        );
    }
}

#[test]
fn bad_framing_is_refused() {
    let mut b = Batch::default();
    b.push(1, 0, 0, 0.0, INTERACTION);
    b.data[3] = 0xff; // not UTF-8
    let err = decode_sdk_batch(&b.view()).expect_err("utf-8").to_string();
    assert!(err.contains("UTF-8"), "{err}");

    let mut b = Batch::default();
    b.push(1, 0, 0, 0.0, INTERACTION);
    b.data.pop();
    b.data.push(b' '); // no newline at the end
    let err = decode_sdk_batch(&b.view()).expect_err("line").to_string();
    assert!(err.contains("one JSON line"), "{err}");

    let mut b = Batch::default();
    b.push(1, 0, 0, 0.0, INTERACTION);
    b.offsets[1] += 1;
    let err = decode_sdk_batch(&b.view())
        .expect_err("offsets")
        .to_string();
    assert!(err.contains("outside"), "{err}");

    let mut b = Batch::default();
    b.push(1, 0, 0, 0.0, INTERACTION);
    b.tenant_index[0] = 2;
    let err = decode_sdk_batch(&b.view()).expect_err("tenant").to_string();
    assert!(err.contains("tenant_index"), "{err}");

    let mut b = Batch::default();
    b.push(1, 0, 0, 0.0, INTERACTION);
    b.value.push(1.0);
    let err = decode_sdk_batch(&b.view())
        .expect_err("lengths")
        .to_string();
    assert!(err.contains("value"), "{err}");
}

#[test]
fn an_empty_batch_gives_empty_tables() {
    let b = Batch {
        offsets: vec![0],
        ..Batch::default()
    };
    let out = decode_sdk_batch(&b.view()).expect("decodes");
    assert!(out.interactions.rows.is_empty() && out.feedback.rows.is_empty());
    assert_eq!(out.interactions.columns.len(), 14);
    assert_eq!(out.feedback.columns.len(), 13);
}

#[test]
fn events_breaking_a_value_rule_are_left_out_with_the_first_rule_they_break() {
    let signal = r#"{"tenant_id":"t","name":"copy","source":"sdk","metadata":"{}"}"#;
    let mut b = Batch::default();
    b.push(1, 0, 1, 9.0, RATING) // outside its 1..5 scale
        .push(2, 0, 1, f64::NAN, RATING) // a rating without a value
        .push(
            3,
            0,
            2,
            1.0,
            &RATING.replace(r#""name":null"#, r#""name":"""#),
        )
        .push(4, 0, 3, 1.0, RATING) // an edit without text
        .push(5, 0, 2, f64::INFINITY, signal)
        .push(6, 0, 0, -1.0, INTERACTION)
        .push(7, 0, 0, 1.0, &INTERACTION.replace(r#""qa""#, r#""""#))
        .push(
            8,
            0,
            0,
            1.0,
            &INTERACTION.replace(r#""metadata":"{}""#, r#""metadata":"[]""#),
        )
        .push(
            9,
            0,
            0,
            -1.0,
            &INTERACTION.replace(r#""output":"hi""#, r#""output":"""#),
        )
        .push(10, 0, 1, 0.0, &RATING.replace("5", "1")) // scale 1..1
        .push(11, 0, 2, 1.0, signal)
        .push(12, 0, 0, 1.0, &INTERACTION.replace(":7", ":-7"));
    let out = decode_sdk_batch(&b.view()).expect("decodes");
    let got: Vec<_> = out
        .broken
        .iter()
        .map(|e| (e.row, e.field, e.reason))
        .collect();
    assert_eq!(
        got,
        [
            (0, "value", "rating outside its scale"),
            (1, "value", "a rating needs a value"),
            (2, "name", "a signal needs a name"),
            (3, "text", "edit/comment/label need text"),
            (4, "value", "not a finite number"),
            (5, "latency_ms", "negative"),
            (6, "learning_key", "empty string"),
            (7, "metadata", "not a JSON object"),
            (8, "latency_ms", "negative"),
            (9, "scale_max", "scale_max <= scale_min"),
            (11, "prompt_tokens", "negative"),
        ]
    );
    assert_eq!(out.feedback.rows, vec![10]);
    assert!(out.interactions.rows.is_empty() && out.invalid.is_empty());

    let mut b = Batch::default();
    b.push(1, 0, 2, 1.0, signal);
    b.tenant_names[1] = String::new();
    let out = decode_sdk_batch(&b.view()).expect("decodes");
    assert_eq!(out.broken[0].field, "tenant_id");
}
