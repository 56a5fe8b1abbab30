from allauth.account.adapter import DefaultAccountAdapter


class KringAccountAdapter(DefaultAccountAdapter):
    """Only people the association knows get an account: no public sign-up."""

    def is_open_for_signup(self, request):
        return False

    def get_login_redirect_url(self, request):
        if request.user.is_staff:
            return "/backoffice/"
        return super().get_login_redirect_url(request)
