"""Test helpers that other Atlas packages and users' own tests share (real servers, no mocks)."""
