"""Everything that exists only for the demo: `signoff demo` and `signoff server --demo` (`make run`).

- `cast.py`: the demo's people, environments and model name, shared by the story and the server.
- `classifier.py`: the real scikit-learn models the demo registers (breast-cancer data).
- `story.py`: the scripted dev -> prod story that `signoff demo` prints, in a throw-away database.
- `server.py`: `signoff server --demo`: the web UI, worker and mail catcher in one process.
- `mail_catcher.py`: the SMTP server on loopback that files the demo's emails for /mailbox.
- `command.py`: the `signoff demo` CLI command.

The demo sits at the level of the entrypoints: it composes the application through
`signoff.bootstrap` and the services, and nothing outside this package imports it except the CLI
(`signoff demo`, `signoff server --demo`). Nothing is imported here, so `signoff --help` stays light.
"""
