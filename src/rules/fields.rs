//! The status fields a rule's conditions may read, typed: which paths exist (checked when a rule
//! is validated) and how each is read from an instance's cached status.
//!
//! A path is the status snapshot's own JSON name (`stream.kbits_per_sec`, `connection.state`);
//! `audio.inputs.{input}.muted` names one input. A field that is not known yet (the studio mode
//! before the first read, an input the instance does not have) reads as `null`, which no
//! comparison other than `eq null` / `ne null` holds for.

use serde_json::{json, Value};

use crate::status::InstanceStatus;

/// The type of a field's value, which decides which operators and values a condition may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Bool,
    Number,
    Text,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            Self::Bool => "a boolean",
            Self::Number => "a number",
            Self::Text => "a string",
        }
    }

    /// Whether `value` may be compared with a field of this type (null always may).
    pub fn admits(self, value: &Value) -> bool {
        let typed = match self {
            Self::Bool => value.is_boolean(),
            Self::Number => value.is_number(),
            Self::Text => value.is_string(),
        };
        typed || value.is_null()
    }
}

type Read = fn(&InstanceStatus) -> Value;

/// Every fixed path: name, type, reader.
const FIXED: &[(&str, FieldType, Read)] = &[
    ("connection.state", FieldType::Text, |s| {
        json!(s.connection.state)
    }),
    ("connection.connected", FieldType::Bool, |s| {
        json!(s.is_connected())
    }),
    ("stale", FieldType::Bool, |s| json!(s.stale)),
    ("current_scene", FieldType::Text, |s| json!(s.current_scene)),
    ("stream.active", FieldType::Bool, |s| json!(s.stream.active)),
    ("stream.state", FieldType::Text, |s| json!(s.stream.state)),
    ("stream.reconnecting", FieldType::Bool, |s| {
        json!(s.stream.reconnecting)
    }),
    ("stream.kbits_per_sec", FieldType::Number, |s| {
        json!(s.stream.kbits_per_sec)
    }),
    ("stream.congestion", FieldType::Number, |s| {
        json!(s.stream.congestion)
    }),
    ("stream.skipped_frames", FieldType::Number, |s| {
        json!(s.stream.skipped_frames)
    }),
    ("stream.duration_ms", FieldType::Number, |s| {
        json!(s.stream.duration_ms)
    }),
    ("record.active", FieldType::Bool, |s| json!(s.record.active)),
    ("record.state", FieldType::Text, |s| json!(s.record.state)),
    ("record.paused", FieldType::Bool, |s| json!(s.record.paused)),
    ("record.duration_ms", FieldType::Number, |s| {
        json!(s.record.duration_ms)
    }),
    ("outputs.replay_buffer.active", FieldType::Bool, |s| {
        json!(s.outputs.replay_buffer.active)
    }),
    ("outputs.virtual_cam.active", FieldType::Bool, |s| {
        json!(s.outputs.virtual_cam.active)
    }),
    ("studio.studio_mode", FieldType::Bool, |s| {
        json!(s.studio.studio_mode)
    }),
    ("studio.preview_scene", FieldType::Text, |s| {
        json!(s.studio.preview_scene)
    }),
    ("studio.current_transition", FieldType::Text, |s| {
        json!(s.studio.current_transition)
    }),
    ("stats.cpu_usage", FieldType::Number, |s| {
        json!(s.stats.as_ref().map(|stats| stats.cpu_usage))
    }),
    ("stats.active_fps", FieldType::Number, |s| {
        json!(s.stats.as_ref().map(|stats| stats.active_fps))
    }),
    ("stats.available_disk_space_mb", FieldType::Number, |s| {
        json!(s.stats.as_ref().map(|stats| stats.available_disk_space_mb))
    }),
    ("stats.output_skipped_frames", FieldType::Number, |s| {
        json!(s.stats.as_ref().map(|stats| stats.output_skipped_frames))
    }),
];

/// `audio.inputs.{input}.{field}`: the fields of one input.
const AUDIO: &[(&str, FieldType)] = &[
    ("muted", FieldType::Bool),
    ("volume_db", FieldType::Number),
    ("volume_mul", FieldType::Number),
    ("balance", FieldType::Number),
];

/// A field path checked against the status model.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Fixed(usize),
    Audio { input: String, field: &'static str },
}

impl Field {
    /// The field named `path`, or why there is none (listing the paths there are).
    pub fn parse(path: &str) -> Result<(Field, FieldType), String> {
        if let Some(index) = FIXED.iter().position(|(name, ..)| *name == path) {
            return Ok((Field::Fixed(index), FIXED[index].1));
        }
        if let Some(rest) = path.strip_prefix("audio.inputs.") {
            if let Some((input, field)) = rest.rsplit_once('.') {
                if let Some((field, kind)) = AUDIO.iter().find(|(name, _)| *name == field) {
                    if !input.is_empty() {
                        return Ok((
                            Field::Audio {
                                input: input.to_string(),
                                field,
                            },
                            *kind,
                        ));
                    }
                }
            }
        }
        Err(format!(
            "unknown status field `{path}`; fields: {}, audio.inputs.{{input}}.{{{}}}",
            FIXED
                .iter()
                .map(|(name, ..)| *name)
                .collect::<Vec<_>>()
                .join(", "),
            AUDIO
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(",")
        ))
    }

    /// The field's value in `status` (null when not known).
    pub fn read(&self, status: &InstanceStatus) -> Value {
        match self {
            Field::Fixed(index) => (FIXED[*index].2)(status),
            Field::Audio { input, field } => status
                .audio
                .inputs
                .iter()
                .find(|candidate| candidate.name == *input)
                .map(|input| match *field {
                    "muted" => json!(input.muted),
                    "volume_db" => json!(input.volume_db),
                    "volume_mul" => json!(input.volume_mul),
                    _ => json!(input.balance),
                })
                .unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn known_paths_are_typed_and_read_from_the_status() {
        let mut status = InstanceStatus::new("a", "127.0.0.1", 4455, Utc::now());
        status.stream.kbits_per_sec = 512.0;
        status.current_scene = Some("Live".into());
        let (field, kind) = Field::parse("stream.kbits_per_sec").unwrap();
        assert_eq!(kind, FieldType::Number);
        assert_eq!(field.read(&status), json!(512.0));
        let (field, kind) = Field::parse("current_scene").unwrap();
        assert_eq!(kind, FieldType::Text);
        assert_eq!(field.read(&status), json!("Live"));
        let (field, _) = Field::parse("audio.inputs.Mic/Aux.muted").unwrap();
        assert_eq!(field.read(&status), Value::Null, "no such input yet");
        assert_eq!(
            Field::parse("connection.state").unwrap().0.read(&status),
            json!("connecting")
        );
    }

    #[test]
    fn an_unknown_path_is_refused_listing_the_known_ones() {
        let error = Field::parse("stream.bitrate").unwrap_err();
        assert!(error.contains("`stream.bitrate`"), "{error}");
        assert!(error.contains("stream.kbits_per_sec"), "{error}");
        assert!(Field::parse("audio.inputs..muted").is_err());
        assert!(Field::parse("audio.inputs.Mic.loudness").is_err());
    }
}
