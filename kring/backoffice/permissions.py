"""Who may see and do what in the back office.

Every back-office view is wrapped in ``staff_required(permission)``: the user must be logged in,
be staff, and hold the permission (through their role, see kring.core.roles). Reading needs a
``view_…`` permission, changing a ``change_…``/``add_…`` one, so the board and the audit
committee (read-only roles) can look but not touch.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def staff_required(*permissions: str):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user.is_staff or not user.has_perms(permissions):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.required_permissions = permissions
        return wrapper

    return decorator
