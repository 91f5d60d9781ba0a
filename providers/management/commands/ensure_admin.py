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
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            password_file.write_text(password)
            password_file.chmod(0o600)
        if password_file.exists():
            self.stdout.write(f"login: admin / {password_file.read_text().strip()}  at {settings.SITE_URL}/admin/")
        else:
            self.stdout.write("login: admin (password set earlier; change it with `manage.py changepassword admin`)")
