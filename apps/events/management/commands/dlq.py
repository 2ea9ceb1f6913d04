import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.events.consumers import load_consumers
from apps.events.dead_letters import list_dead_letters, purge_dead_letters, replay_dead_letters


class Command(BaseCommand):
    help = "Show, replay or drop the dead-lettered messages of an event consumer's queue."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["list", "replay", "purge"])
        parser.add_argument("queue", help="The consumer's queue, e.g. cinema.stats")
        parser.add_argument("--limit", type=int, default=None)

    def handle(self, *args: Any, action: str, queue: str, limit: int | None, **options: Any):
        known = {consumer.queue_name for consumer in load_consumers()}
        if queue.endswith(".dlq"):
            queue = queue.removesuffix(".dlq")
        if queue not in known:
            raise CommandError(f"unknown queue {queue!r}; consumers: {', '.join(sorted(known))}")
        if action == "list":
            letters = list_dead_letters(queue, limit=limit or 100)
            for letter in letters:
                self.stdout.write(
                    f"{letter.event_id}  {letter.event_type}  ({letter.reason})  "
                    f"{json.dumps(letter.body, default=str)}"
                )
            self.stdout.write(f"{len(letters)} message(s) in {queue}.dlq")
        elif action == "replay":
            count = replay_dead_letters(queue, limit=limit)
            self.stdout.write(self.style.SUCCESS(f"replayed {count} message(s) to {queue}"))
        else:
            count = purge_dead_letters(queue)
            self.stdout.write(self.style.SUCCESS(f"purged {count} message(s) from {queue}.dlq"))
