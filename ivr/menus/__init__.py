"""Menu trees as data: schema, validation and the per-call interpreter.

load_menu(path, known_prompts=None, actions=None) -> MenuTree     (validate.py; MenuError)
check_menu_text(text, file, ...) -> (MenuTree | None, [MenuProblem])
LiveMenu(tree).current / .go_live(tree)         the version new calls get (live.py)
MenuFollower(file, db, now, ...).start() / .poll() -> MenuSync
    publishes an edited file, follows the version live in the database (publishing.py)
MenuRun(tree, wallclock=..., calendar=..., caller=..., call_ref=...)  (interpreter.py)
    .start(now) / .handle(event, now) -> [Command]; .next_deadline(); .ended
events.py: DigitPressed PromptFinished TimerExpired IntentHeard ActionCompleted TransferEnded
           -> Play StopPlayback RunAction Transfer Hangup
python -m ivr menus validate FILE | publish FILE | history | rollback VERSION   (cli.py)
"""
