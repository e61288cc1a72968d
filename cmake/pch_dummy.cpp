// Anchor for the shared libtorch precompiled header.
