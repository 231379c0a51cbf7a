// tests/js/top_level_throw.js — parses, but its top level throws (line 2).
throw new Error("top-level failure");
