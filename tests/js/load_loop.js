// tests/js/load_loop.js — a top level that never finishes.
for (;;) {}
