"""Rubrics and judge panels: the default rubric is seeded, and every verdict given so far becomes its judge's
verdict (panel position 1), keeping its readings, so position consistency counts every swap check ever made."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

from debates.models import DEFAULT_RUBRIC


def seed_rubric_and_move_verdicts_to_judges(apps, schema_editor):
    Criterion = apps.get_model("debates", "Criterion")
    for position, (key, name, description) in enumerate(DEFAULT_RUBRIC, start=1):
        Criterion.objects.get_or_create(key=key, defaults={"name": name, "description": description,
                                                           "weight": 1.0, "position": position})
    Verdict, JudgeVerdict = apps.get_model("debates", "Verdict"), apps.get_model("debates", "JudgeVerdict")
    VerdictReading = apps.get_model("debates", "VerdictReading")
    for verdict in Verdict.objects.all().iterator():
        scores = [{"seat_id": s.seat_id, "score": s.score, "reasoning": s.reasoning, "criteria": []}
                  for s in verdict.scores.all()]
        judge = JudgeVerdict.objects.create(
            verdict=verdict, position=1, judge_model_id=verdict.judge_model_id, answered_by=verdict.answered_by,
            answered_by_model_id=verdict.answered_by_model_id, fallback_reason=verdict.fallback_reason,
            cost_usd=verdict.cost_usd, raw_text=verdict.raw_text, parsed=verdict.parsed,
            parse_error=verdict.parse_error, repaired=verdict.repaired, summary=verdict.summary,
            winner_id=verdict.winner_id, key_arguments=verdict.key_arguments, scores=scores,
            swap_held=verdict.swap_held, swap_note=verdict.swap_note)
        VerdictReading.objects.filter(verdict=verdict).update(judge=judge)


class Migration(migrations.Migration):

    dependencies = [
        ('debates', '0005_identity_blind_and_seat_swap'),
        ('providers', '0003_structured_output'),
    ]

    operations = [
        migrations.CreateModel(
            name='Criterion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=40, unique=True, validators=[django.core.validators.RegexValidator('^[a-z][a-z0-9_]{0,39}$', "Use lowercase letters, digits and underscores, starting with a letter: the judge's JSON names the criterion by this key.")])),
                ('name', models.CharField(max_length=100)),
                ('description', models.CharField(max_length=300, verbose_name='what it means')),
                ('weight', models.FloatField(default=1.0, help_text="Its share of a seat's overall score, the weighted mean of its criteria.", validators=[django.core.validators.MinValueValidator(0.01), django.core.validators.MaxValueValidator(100.0)])),
                ('position', models.PositiveSmallIntegerField(default=0, help_text='Criteria are listed and asked in this order.')),
                ('enabled', models.BooleanField(default=True)),
            ],
            options={
                'verbose_name_plural': 'rubric criteria',
                'ordering': ['position', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='DebateCriterion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('key', models.CharField(max_length=40)),
                ('name', models.CharField(max_length=100)),
                ('description', models.CharField(max_length=300)),
                ('weight', models.FloatField()),
            ],
            options={
                'ordering': ['debate', 'position'],
            },
        ),
        migrations.CreateModel(
            name='JudgeVerdict',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('answered_by', models.CharField(blank=True, max_length=200)),
                ('fallback_reason', models.TextField(blank=True)),
                ('cost_usd', models.FloatField(blank=True, null=True)),
                ('error', models.TextField(blank=True, help_text='Why this judge gave no verdict: its calls failed.')),
                ('raw_text', models.TextField(blank=True)),
                ('parsed', models.BooleanField(default=False)),
                ('parse_error', models.TextField(blank=True)),
                ('repaired', models.BooleanField(default=False)),
                ('summary', models.TextField(blank=True)),
                ('key_arguments', models.JSONField(blank=True, default=list)),
                ('scores', models.JSONField(blank=True, default=list, help_text='[{"seat_id": ..., "score": ..., "criteria": [{"key", "score", "reasoning"}]}]')),
                ('swap_held', models.BooleanField(blank=True, null=True)),
                ('swap_note', models.TextField(blank=True)),
            ],
            options={
                'ordering': ['verdict', 'position'],
            },
        ),
        migrations.CreateModel(
            name='PanelJudge',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
            ],
            options={
                'ordering': ['debate', 'position'],
            },
        ),
        migrations.AlterModelOptions(
            name='verdictreading',
            options={'ordering': ['judge', 'swapped']},
        ),
        migrations.AddField(
            model_name='seatscore',
            name='criteria',
            field=models.JSONField(blank=True, default=list, help_text='[{"key": ..., "score": ..., "reasoning": ...}]'),
        ),
        migrations.AddField(
            model_name='verdict',
            name='agreement',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='verdict',
            name='panel_note',
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name='seatscore',
            name='score',
            field=models.FloatField(help_text="The weighted mean of the seat's criterion scores.", validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(10.0)]),
        ),
        migrations.AddField(
            model_name='debatecriterion',
            name='debate',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='criteria', to='debates.debate'),
        ),
        migrations.AddField(
            model_name='judgeverdict',
            name='answered_by_model',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='providers.llmmodel'),
        ),
        migrations.AddField(
            model_name='judgeverdict',
            name='judge_model',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='providers.llmmodel'),
        ),
        migrations.AddField(
            model_name='judgeverdict',
            name='verdict',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='judges', to='debates.verdict'),
        ),
        migrations.AddField(
            model_name='judgeverdict',
            name='winner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='debates.seat'),
        ),
        migrations.AddField(
            model_name='verdictreading',
            name='judge',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='readings', to='debates.judgeverdict'),
        ),
        migrations.RunPython(seed_rubric_and_move_verdicts_to_judges, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='verdictreading',
            name='one_reading_per_order',
        ),
        migrations.RemoveField(
            model_name='verdictreading',
            name='verdict',
        ),
        migrations.AlterField(
            model_name='verdictreading',
            name='judge',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='readings', to='debates.judgeverdict'),
        ),
        migrations.AddConstraint(
            model_name='verdictreading',
            constraint=models.UniqueConstraint(fields=('judge', 'swapped'), name='one_reading_per_judge_and_order'),
        ),
        migrations.AddField(
            model_name='paneljudge',
            name='debate',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='panel', to='debates.debate'),
        ),
        migrations.AddField(
            model_name='paneljudge',
            name='model',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='panel_seats', to='providers.llmmodel'),
        ),
        migrations.AddConstraint(
            model_name='debatecriterion',
            constraint=models.UniqueConstraint(fields=('debate', 'key'), name='one_criterion_per_key'),
        ),
        migrations.AddConstraint(
            model_name='judgeverdict',
            constraint=models.UniqueConstraint(fields=('verdict', 'position'), name='one_place_per_judge'),
        ),
        migrations.AddConstraint(
            model_name='paneljudge',
            constraint=models.UniqueConstraint(fields=('debate', 'model'), name='one_panel_place_per_model'),
        ),
    ]
