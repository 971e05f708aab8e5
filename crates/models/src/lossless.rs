//! The `lossless_object!` macro: a JSON object type with typed known properties that keeps every
//! other property, and every explicit `null`, exactly as received.
//!
//! Each known property is an `Option`: absent and `null` both read as `None`. A `null` is also
//! recorded in the type's `extra` map under its wire name, so it is written back as `null`; a
//! property that is present with a value always wins over an `extra` entry of the same name.
//!
//! PHP, which Alumio is written in, encodes an empty object as `[]`. Such a type therefore also
//! reads an empty JSON array, as an empty object that remembers the spelling
//! (`written_as_empty_array`) and is written back as `[]`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, Visitor};

/// An object key that borrows from the input when it can, so known keys cost no allocation.
pub(crate) struct WireKey<'de>(pub(crate) Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for WireKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = WireKey<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(WireKey(Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(WireKey(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(WireKey(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Declares a lossless JSON object type; see the module documentation for the rules.
macro_rules! lossless_object {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident: $ty:ty => $wire:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $(
                $(#[$field_meta])*
                pub $field: Option<$ty>,
            )*
            /// Properties this crate does not know, and known properties that were sent as an
            /// explicit `null`, kept as received and written back.
            pub extra: serde_json::Map<String, serde_json::Value>,
            /// Whether the object arrived as `[]`, PHP's spelling of an empty object; it is then
            /// written back as `[]` while it stays empty.
            pub written_as_empty_array: bool,
        }

        impl $name {
            /// The wire names of the properties this type knows.
            pub const KNOWN_PROPERTIES: &'static [&'static str] = &[$($wire),*];

            /// Whether `key` names a known property that has a value, which an `extra` entry of
            /// the same name must not overwrite.
            fn is_set(&self, key: &str) -> bool {
                match key {
                    $($wire => self.$field.is_some(),)*
                    _ => false,
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::{SerializeMap, SerializeSeq};
                let empty = $(self.$field.is_none() &&)* self.extra.is_empty();
                if self.written_as_empty_array && empty {
                    return serializer.serialize_seq(Some(0))?.end();
                }
                let mut map = serializer.serialize_map(None)?;
                $(
                    if let Some(value) = &self.$field {
                        map.serialize_entry($wire, value)?;
                    }
                )*
                for (key, value) in &self.extra {
                    if !self.is_set(key) {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;

                impl<'de> serde::de::Visitor<'de> for ObjectVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        let mut object = $name::default();
                        while let Some($crate::lossless::WireKey(key)) = map.next_key()? {
                            match &*key {
                                $(
                                    $wire => {
                                        // The last occurrence of a repeated key wins, as it does
                                        // for `serde_json::Value`.
                                        object.$field = map.next_value()?;
                                        if object.$field.is_some() {
                                            object.extra.remove($wire);
                                        } else {
                                            object.extra.insert($wire.to_owned(), serde_json::Value::Null);
                                        }
                                    }
                                )*
                                _ => {
                                    let value = map.next_value()?;
                                    object.extra.insert(key.into_owned(), value);
                                }
                            }
                        }
                        Ok(object)
                    }

                    fn visit_seq<A: serde::de::SeqAccess<'de>>(
                        self,
                        mut seq: A,
                    ) -> Result<$name, A::Error> {
                        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                            return Err(serde::de::Error::invalid_type(
                                serde::de::Unexpected::Seq,
                                &self,
                            ));
                        }
                        Ok($name {
                            written_as_empty_array: true,
                            ..$name::default()
                        })
                    }
                }

                // `any` rather than `map`, so that PHP's `[]` for an empty object is accepted.
                deserializer.deserialize_any(ObjectVisitor)
            }
        }
    };
}

pub(crate) use lossless_object;
