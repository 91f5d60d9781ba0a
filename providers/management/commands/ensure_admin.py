"""Create the first admin login for a fresh installation and print it."""
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the 'admin' superuser if there is none and print its login (kept in var/admin_password)."

    def handle(self, *args, **options) -> None:
        password_file = settings.VAR_DIR / "admin_password"
        User = get_user_model()
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            password = secrets.token_urlsafe(12)
            admin = User.objects.create_superuser("admin", "", password)
            password_file.write_text(password)
            password_file.chmod(0o600)
        kept = password_file.read_text().strip() if password_file.exists() else ""
        if kept and admin.check_password(kept):
            self.stdout.write(f"login: admin / {kept}  at {settings.SITE_URL}/admin/")
            return
        # Changed since (changepassword), or made another way on this database: the file would show one that fails.
        password_file.unlink(missing_ok=True)
        self.stdout.write("login: admin (password set earlier; change it with `manage.py changepassword admin`)")
