"""Keep the cached users (Redis, and each process's tokens) in step with the table."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .backends import forget_user
from .models import User
from .token_cache import forget_user_tokens


@receiver(post_save, sender=User, dispatch_uid="accounts.forget_saved_user")
@receiver(post_delete, sender=User, dispatch_uid="accounts.forget_deleted_user")
def forget_changed_user(sender, instance: User, created: bool = False, **kwargs) -> None:
    if created:
        # A new row: no process holds a copy of it or a token of it yet (a read before the
        # commit does not see it), so its insert waits on no Redis round trip (nor on three
        # socket timeouts when Redis hangs).
        return
    forget_user(instance.pk)
    # Again once committed: a read between the two could have cached the row being replaced.
    transaction.on_commit(lambda: forget_user(instance.pk))
    forget_user_tokens(instance.pk)


@receiver(user_logged_in, dispatch_uid="accounts.forget_tokens_at_login")
@receiver(user_logged_out, dispatch_uid="accounts.forget_tokens_at_logout")
def forget_tokens_when_sessions_change(sender, user, **kwargs) -> None:
    # A login may end the session it replaces; a logout ends its own.
    if user is not None:
        forget_user_tokens(user.pk)
