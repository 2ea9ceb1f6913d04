"""Keep the cached users of the authentication backends in step with the table."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .backends import forget_user
from .models import User


@receiver(post_save, sender=User, dispatch_uid="accounts.forget_saved_user")
@receiver(post_delete, sender=User, dispatch_uid="accounts.forget_deleted_user")
def forget_changed_user(sender, instance: User, **kwargs) -> None:
    forget_user(instance.pk)
